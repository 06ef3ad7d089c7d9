//! `server/schema.graphql` is the contract between the server and its clients (the bot
//! compiles its queries against it): it must always equal the schema the code builds.

use crate::support::repository_root;

#[test]
fn schema_graphql_is_current() {
    let path = repository_root().join("server/schema.graphql");
    let built = server::graphql::sdl();
    if std::env::var_os("STAGEWISE_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &built).expect("write server/schema.graphql");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == built,
        "server/schema.graphql is stale; regenerate it with \
         `STAGEWISE_UPDATE_SCHEMA=1 cargo test -p server --test it schema` and review the diff"
    );
}

#[test]
fn every_type_and_field_is_documented() {
    let sdl = server::graphql::sdl();
    // Every object field and type in our schema carries a description ("""…""" or "…"
    // line before it). Introspection types are not part of the SDL.
    let lines: Vec<&str> = sdl.lines().collect();
    let mut undocumented = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let is_definition = trimmed.starts_with("type ")
            || trimmed.starts_with("input ")
            || trimmed.starts_with("enum ")
            || trimmed.starts_with("scalar ")
            || trimmed.starts_with("union ")
            || trimmed.starts_with("interface ");
        let is_field = line.starts_with('\t')
            && !trimmed.is_empty()
            && !trimmed.starts_with('"')
            && !trimmed.starts_with('}')
            && !trimmed.starts_with('#')
            && !trimmed.starts_with("@")
            && !["query:", "mutation:", "subscription:"]
                .iter()
                .any(|root| trimmed.starts_with(root));
        if (is_definition && !trimmed.starts_with("scalar ")) || is_field {
            let previous = index.checked_sub(1).map(|i| lines[i].trim()).unwrap_or("");
            if !previous.ends_with('"') {
                undocumented.push(trimmed.to_owned());
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "undocumented in the schema:\n{}",
        undocumented.join("\n")
    );
}
