//! The catalogue over HTTP: instruments with their full content, questions rendered for
//! a channel, languages, parameters, and who may read them.

use serde_json::{Value, json};
use server::domain::{ApiToken, Timestamp, TokenHash, TokenId, TokenRole};

use crate::support::{Backend, TestServer, data, error_code};

const STAGES: &str = r#"
query Stages {
  instrument(id: "jiu-rbm-stages") {
    id version kind responseMode language audience
    source { document part pages }
    notes { about text }
    stageQuestionnaire {
      stageQuestion { heading items { id number text required } }
      activityQuestion { otherRows scale { value label } }
      pillars {
        number name
        components {
          id name
          stages { stage title text }
          indicators { text jiu2004 intro }
          activities { number questionId text }
        }
      }
      component(id: "2.1") {
        id name
        pillar { number }
        drivers { number keyQuestion stages { stage name text } }
      }
    }
    drivers { stages { name } }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stage_questionnaire_has_its_pillars_components_stages_and_drivers() {
    let server = TestServer::spawn(Backend::Redb).await;
    let response = server.admin(STAGES, json!({})).await;
    let instrument = &data(&response)["instrument"];
    assert_eq!(instrument["id"], "jiu-rbm-stages");
    assert_eq!(instrument["version"], 1);
    assert_eq!(instrument["kind"], "STAGE_QUESTIONNAIRE");
    assert_eq!(instrument["responseMode"], "PER_ORGANISATION");
    assert_eq!(instrument["language"], "en");
    assert_eq!(instrument["audience"], json!(["RBM_FOCAL_POINT"]));
    assert_eq!(instrument["source"]["part"], "Annex IX, part 1");
    assert!(
        instrument["drivers"].is_null(),
        "one content field per kind"
    );
    assert!(!instrument["notes"].as_array().expect("notes").is_empty());

    let body = &instrument["stageQuestionnaire"];
    let items = body["stageQuestion"]["items"].as_array().expect("items");
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["id"], "stage");
    assert_eq!(items[0]["number"], "1.1");
    assert_eq!(
        body["activityQuestion"]["scale"][1]["label"],
        "Little contribution"
    );

    let pillars = body["pillars"].as_array().expect("pillars");
    assert_eq!(pillars.len(), 5);
    let components: Vec<&Value> = pillars
        .iter()
        .flat_map(|pillar| pillar["components"].as_array().expect("components"))
        .collect();
    assert_eq!(components.len(), 17);
    for component in &components {
        let stages = component["stages"].as_array().expect("stages");
        let numbers: Vec<u64> = stages.iter().filter_map(|s| s["stage"].as_u64()).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5], "component {}", component["id"]);
    }

    let first = components[0];
    assert_eq!(first["id"], "1.1");
    assert_eq!(first["name"], "Results-based management strategy");
    assert_eq!(
        first["stages"][0]["title"],
        "Not started and no strategy for results-based management"
    );
    let indicators = first["indicators"].as_array().expect("indicators");
    assert!(
        indicators.iter().any(|i| i["jiu2004"] == true
            && i["text"]
                == "Specify the key principles of the results framework and in managing for results"),
        "{indicators:?}"
    );
    assert!(indicators.iter().any(|i| i["jiu2004"] == false));
    assert_eq!(first["activities"][0]["number"], 1);
    assert_eq!(first["activities"][0]["questionId"], "1.1/activity/1");

    let component = &body["component"];
    assert_eq!(component["id"], "2.1");
    assert_eq!(component["pillar"]["number"], 2);
    let drivers = component["drivers"].as_array().expect("drivers");
    let numbers: Vec<u64> = drivers
        .iter()
        .filter_map(|d| d["number"].as_u64())
        .collect();
    assert_eq!(numbers, [1, 2, 5], "the drivers of annex V that list 2.1");
    assert_eq!(
        drivers[0]["keyQuestion"],
        "what is the extent to which indicators of the components that describe the \
         mainstreaming of results-based management are covered?"
    );
    assert_eq!(drivers[0]["stages"].as_array().map(Vec::len), Some(5));
    assert_eq!(drivers[0]["stages"][0]["name"], "Not started");
    server.stop().await;
}

const QUESTION: &str = r#"
query Question($instrument: String!, $version: Int!, $question: String!,
               $parameters: [ParameterValue!], $language: String) {
  question(instrumentId: $instrument, version: $version, questionId: $question,
           language: $language) {
    id type required min max maxRows
    prompt(parameters: $parameters) {
      number text heading instructions help guidance subQuestions fieldLabel
      component { id name stages { stage title } }
      section { id title }
      scale { value label }
    }
  }
}
"#;

async fn question(server: &TestServer, variables: Value) -> Value {
    server.admin(QUESTION, variables).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_render_with_their_prompt() {
    let server = TestServer::spawn(Backend::Redb).await;

    let response = question(
        &server,
        json!({ "instrument": "jiu-rbm-stages", "version": 1, "question": "1.1/stage" }),
    )
    .await;
    let stage = &data(&response)["question"];
    assert_eq!(stage["id"], "1.1/stage");
    assert_eq!(stage["type"], "STAGE");
    assert_eq!(stage["required"], true);
    assert!(stage["min"].is_null());
    let prompt = &stage["prompt"];
    assert_eq!(prompt["number"], "1.1");
    assert_eq!(prompt["text"], "Select the stage of development:");
    assert_eq!(
        prompt["heading"],
        "Q.1: Assessment of stage of development and evidence for assessment"
    );
    assert_eq!(prompt["guidance"].as_array().map(Vec::len), Some(2));
    assert_eq!(prompt["component"]["id"], "1.1");
    assert_eq!(
        prompt["component"]["name"],
        "Results-based management strategy"
    );
    assert_eq!(
        prompt["component"]["stages"].as_array().map(Vec::len),
        Some(5)
    );
    assert!(prompt["section"].is_null());

    let response = question(
        &server,
        json!({ "instrument": "jiu-rbm-stages", "version": 1, "question": "1.1/activity/1" }),
    )
    .await;
    let rating = &data(&response)["question"];
    assert_eq!(rating["type"], "RATING");
    assert_eq!(
        (rating["min"].as_u64(), rating["max"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(rating["prompt"]["number"], "1");
    assert!(!rating["prompt"]["text"].as_str().unwrap_or("").is_empty());
    let labels: Vec<&str> = rating["prompt"]["scale"]
        .as_array()
        .expect("scale")
        .iter()
        .filter_map(|p| p["label"].as_str())
        .collect();
    assert_eq!(
        labels,
        [
            "No contribution",
            "Little contribution",
            "Significant contribution"
        ]
    );

    let response = question(
        &server,
        json!({ "instrument": "jiu-rbm-stages", "version": 1, "question": "5.1/other" }),
    )
    .await;
    let other = &data(&response)["question"];
    assert_eq!(other["type"], "OTHER_ACTIVITIES");
    assert_eq!(other["maxRows"], 10);
    assert_eq!(
        other["prompt"]["instructions"],
        "Add main activities from your organization and rate them.",
        "5.1 words its own Q.2 instructions"
    );

    let lessons = json!({
        "instrument": "iom-rtl-lessons-learned", "version": 1,
        "question": "questions/key-successes",
    });
    let response = question(&server, lessons.clone()).await;
    let item = &data(&response)["question"];
    assert_eq!(item["type"], "LONG_TEXT");
    assert_eq!(
        item["prompt"]["text"],
        "What were the key successes in the last period?"
    );
    assert_eq!(item["prompt"]["section"]["id"], "questions");
    assert!(item["prompt"]["component"].is_null());

    let mut with_period = lessons.clone();
    with_period["parameters"] = json!([{ "id": "period", "value": "March 2026" }]);
    let response = question(&server, with_period).await;
    assert_eq!(
        data(&response)["question"]["prompt"]["text"],
        "What were the key successes in March 2026?"
    );

    let mut unknown_parameter = lessons.clone();
    unknown_parameter["parameters"] = json!([{ "id": "place", "value": "Geneva" }]);
    let response = question(&server, unknown_parameter).await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");

    let response = question(
        &server,
        json!({ "instrument": "jiu-rbm-outcomes", "version": 1, "question": "outcome-1/q9/answer" }),
    )
    .await;
    let field = &data(&response)["question"];
    assert_eq!(field["type"], "SHORT_TEXT");
    assert_eq!(field["prompt"]["fieldLabel"], "Senior manager(s):");
    assert_eq!(field["prompt"]["number"], "9");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questionnaires_and_reference_instruments_can_be_read() {
    let server = TestServer::spawn(Backend::Redb).await;

    let response = server
        .admin(
            r#"{ instrument(id: "jiu-rbm-outcomes", version: 1) {
                   kind
                   questionnaire { outcomeAreas { id number name }
                                   sections { id items { id questionId fields { questionId type } } } }
                 } }"#,
            json!({}),
        )
        .await;
    let outcomes = &data(&response)["instrument"];
    assert_eq!(outcomes["kind"], "QUESTIONNAIRE");
    let areas = outcomes["questionnaire"]["outcomeAreas"]
        .as_array()
        .expect("outcome areas");
    assert_eq!(areas.len(), 5);
    assert_eq!(areas[0]["id"], "qcpr-1");

    let response = server
        .admin(
            r#"query($p: [ParameterValue!]) { instrument(id: "iom-rtl-lessons-learned") {
                 questionnaire(parameters: $p) { parameters { id default }
                                                 sections { items { text } } guidance { id } }
               } }"#,
            json!({ "p": [{ "id": "period", "value": "the first week" }] }),
        )
        .await;
    let body = &data(&response)["instrument"]["questionnaire"];
    assert_eq!(body["parameters"][0]["default"], "the last period");
    assert_eq!(
        body["sections"][0]["items"][2]["text"],
        "What are the top three learnings from the first week?"
    );

    let response = server
        .admin(
            r#"{ instruments(kind: VALIDATION_GUIDE) { id questions { id }
                   validationGuide { concerns { title } summarySheet { rows { component } } } }
                 outcomeMap: instruments(kind: OUTCOME_MAP) {
                   outcomeMap { components { component outcomeAreas } } }
                 all: instruments { id kind } }"#,
            json!({}),
        )
        .await;
    let lists = data(&response);
    let guides = lists["instruments"].as_array().expect("guides");
    assert_eq!(guides.len(), 1);
    assert_eq!(guides[0]["id"], "jiu-rbm-validation");
    assert_eq!(guides[0]["questions"], json!([]), "reference only");
    assert_eq!(
        guides[0]["validationGuide"]["summarySheet"]["rows"]
            .as_array()
            .map(Vec::len),
        Some(17)
    );
    assert_eq!(
        lists["outcomeMap"][0]["outcomeMap"]["components"]
            .as_array()
            .map(Vec::len),
        Some(17)
    );
    let all = lists["all"].as_array().expect("all");
    assert_eq!(all.len(), server.state.catalogue.len());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_instruments_languages_and_tokens_are_refused() {
    let server = TestServer::spawn(Backend::Redb).await;

    let response = server
        .admin(r#"{ instrument(id: "no-such-thing") { id } }"#, json!({}))
        .await;
    assert_eq!(error_code(&response), Some("NOT_FOUND"), "{response}");
    let response = server
        .admin(
            r#"{ instrument(id: "jiu-rbm-stages", version: 99) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), Some("NOT_FOUND"), "{response}");
    let response = question(
        &server,
        json!({ "instrument": "jiu-rbm-stages", "version": 1, "question": "9.9/stage" }),
    )
    .await;
    assert_eq!(error_code(&response), Some("NOT_FOUND"), "{response}");
    let response = server
        .admin(
            r#"{ instrument(id: "jiu-rbm-stages") { question(id: "9.9/stage") { id } } }"#,
            json!({}),
        )
        .await;
    assert!(
        data(&response)["instrument"]["question"].is_null(),
        "a nested lookup is null"
    );

    let response = server
        .admin(
            r#"{ instrument(id: "jiu-rbm-stages", language: "French") { title } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
    // A language no text is translated into falls back to the instrument's own.
    let response = server
        .admin(
            r#"{ instrument(id: "jiu-rbm-stages", language: "fr") { title language } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data(&response)["instrument"]["title"],
        "Assessment methodology for stages of development: stage questionnaire"
    );

    let query = r#"{ instruments { id } }"#;
    let response = server.graphql_as(None, None, query, json!({})).await;
    assert_eq!(error_code(&response), Some("UNAUTHENTICATED"), "{response}");
    let response = server
        .graphql_as(Some("not-a-token"), None, query, json!({}))
        .await;
    assert_eq!(error_code(&response), Some("UNAUTHENTICATED"), "{response}");
    let revoked = revoked_token(&server).await;
    let response = server
        .graphql_as(Some(&revoked), None, query, json!({}))
        .await;
    assert_eq!(error_code(&response), Some("UNAUTHENTICATED"), "{response}");
    for token in [
        server.token(TokenRole::Bot).await,
        server.validator(&["round-2026"]).await,
    ] {
        let response = server
            .graphql_as(Some(&token), None, query, json!({}))
            .await;
        assert!(
            !data(&response)["instruments"]
                .as_array()
                .expect("list")
                .is_empty()
        );
    }
    server.stop().await;
}

/// A bot token stored as revoked; returns its secret.
async fn revoked_token(server: &TestServer) -> String {
    let secret = server::service::access::new_secret().expect("randomness");
    let token = ApiToken {
        id: TokenId::parse("t-revoked").expect("id"),
        hash: TokenHash::of(&secret),
        role: TokenRole::Bot,
        label: "revoked".to_owned(),
        created_at: Timestamp::now(),
        revoked: true,
    };
    server
        .state
        .store
        .put_api_token(&token)
        .await
        .expect("token stored");
    secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_requested_language_flows_down_to_every_text() {
    // The shipped instruments are English only: translate two texts of a copy.
    let catalogue = tempfile::tempdir().expect("temp dir");
    copy_dir(&tests::questionnaires_dir(), catalogue.path());
    let stages = catalogue.path().join("jiu-rbm-stages/v1.toml");
    let source = std::fs::read_to_string(&stages).expect("stage questionnaire");
    let title =
        "title = \"Assessment methodology for stages of development: stage questionnaire\"\n";
    let item = "text = \"Select the stage of development:\"\n";
    assert!(source.contains(title) && source.contains(item));
    let translated = source
        .replacen(
            title,
            &format!("{title}\"title::fr\" = \"Méthodologie\"\n"),
            1,
        )
        .replacen(
            item,
            &format!("{item}\"text::fr\" = \"Choisissez le stade :\"\n"),
            1,
        );
    std::fs::write(&stages, translated).expect("write the translation");
    let dir = catalogue.path().to_path_buf();
    let server = TestServer::spawn_with(Backend::Redb, None, "e2e", move |settings| {
        settings.catalogue.dir = dir;
    })
    .await;

    let query = r#"query($language: String) {
      instrument(id: "jiu-rbm-stages", language: $language) {
        title language
        stageQuestionnaire { stageQuestion { items { text } } }
        questions { id prompt { text } }
      } }"#;
    let response = server.admin(query, json!({ "language": "fr" })).await;
    let french = &data(&response)["instrument"];
    assert_eq!(french["title"], "Méthodologie");
    assert_eq!(french["language"], "en", "the instrument's own language");
    let items = &french["stageQuestionnaire"]["stageQuestion"]["items"];
    assert_eq!(items[0]["text"], "Choisissez le stade :");
    assert_eq!(
        items[1]["text"], "Provide the rationale or justification for your selection:",
        "an untranslated text falls back to the instrument's own language"
    );
    assert_eq!(french["questions"][0]["id"], "1.1/stage");
    assert_eq!(
        french["questions"][0]["prompt"]["text"],
        "Choisissez le stade :"
    );

    let response = server.admin(query, json!({})).await;
    assert_eq!(
        data(&response)["instrument"]["title"],
        "Assessment methodology for stages of development: stage questionnaire"
    );

    let response = question(
        &server,
        json!({ "instrument": "jiu-rbm-stages", "version": 1, "question": "2.1/stage",
                "language": "fr" }),
    )
    .await;
    assert_eq!(
        data(&response)["question"]["prompt"]["text"],
        "Choisissez le stade :"
    );
    server.stop().await;
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}
