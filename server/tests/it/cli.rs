use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{copy_of_shipped, repository_root};

fn server(args: &[&str], config_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stagewise-server"))
        .args(args)
        .env("STAGEWISE_CONFIG_DIR", config_dir)
        .env_remove("STAGEWISE__CATALOGUE__DIR")
        .env_remove("STAGEWISE_PROFILE")
        .output()
        .expect("the binary runs")
}

fn shipped_config() -> std::path::PathBuf {
    repository_root().join("config")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A configuration folder whose catalogue is the given folder.
fn config_for(catalogue: &Path) -> tempfile::TempDir {
    let config = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        config.path().join("server.toml"),
        format!("[catalogue]\ndir = {:?}\n", catalogue.display().to_string()),
    )
    .expect("write config");
    config
}

#[test]
fn check_summarises_the_shipped_catalogue() {
    let output = server(&["catalogue", "check"], &shipped_config());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("12 instrument versions, all valid"),
        "{stdout}"
    );
    assert!(
        stdout.contains("5 pillars, 17 components, 167 indicators, 80 activities"),
        "{stdout}"
    );
}

#[test]
fn a_malformed_catalogue_stops_the_server_at_start() {
    let (_temp, dir) = copy_of_shipped();
    let path = dir.join("jiu-rbm-stages/v1.toml");
    let original = std::fs::read_to_string(&path).expect("file");
    std::fs::write(&path, original.replacen("stage = 2\n", "", 1)).expect("write");
    let config = config_for(&dir);

    let output = server(&[], config.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("questionnaires/jiu-rbm-stages/v1.toml"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pillars[0].components[0].stages"),
        "{stderr}"
    );

    let output = server(&["catalogue", "check"], config.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("questionnaires/jiu-rbm-stages/v1.toml: pillars[0].components[0].stages"),
        "{stderr}"
    );

    let output = server(
        &["catalogue", "check", &dir.display().to_string()],
        &shipped_config(),
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "an explicit folder is checked"
    );
}

#[test]
fn export_prints_every_instrument_as_json() {
    let output = server(&["catalogue", "export"], &shipped_config());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let instruments = json["instruments"].as_array().expect("instruments");
    assert_eq!(instruments.len(), 12);
    for instrument in instruments {
        for field in ["id", "version", "kind", "title", "source", "questions"] {
            assert!(instrument.get(field).is_some(), "{field} in {instrument:?}");
        }
    }
}

#[test]
fn export_of_the_stage_questionnaire_has_the_documented_shape() {
    let output = server(
        &["catalogue", "export", "--instrument", "jiu-rbm-stages"],
        &shipped_config(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let instruments = json["instruments"].as_array().expect("instruments");
    assert_eq!(instruments.len(), 1);
    let stages = &instruments[0];
    assert_eq!(stages["id"], "jiu-rbm-stages");
    assert_eq!(stages["version"], 1);
    assert_eq!(stages["source"]["part"], "Annex IX, part 1");
    let pillars = stages["pillars"].as_array().expect("pillars");
    assert_eq!(pillars.len(), 5);
    let components: Vec<&Value> = pillars
        .iter()
        .flat_map(|p| p["components"].as_array().expect("components"))
        .collect();
    assert_eq!(components.len(), 17);
    for component in &components {
        for field in ["id", "name", "description", "output_quality"] {
            assert!(component[field].is_string(), "{field}");
        }
        let stages = component["stages"].as_array().expect("stages");
        assert_eq!(stages.len(), 5);
        assert!(
            stages
                .iter()
                .all(|s| s["stage"].is_u64() && s["title"].is_string() && s["text"].is_string())
        );
        let indicators = component["indicators"].as_array().expect("indicators");
        assert!(
            indicators
                .iter()
                .all(|i| i["text"].is_string() && i["jiu2004"].is_boolean())
        );
        assert!(
            component["activities"]
                .as_array()
                .expect("activities")
                .iter()
                .all(|a| a["text"].is_string())
        );
    }
    assert_eq!(pillars[0]["number"], 1);
    assert_eq!(components[0]["indicators"][3]["jiu2004"], true);
}

#[test]
fn export_of_an_unknown_instrument_fails() {
    let output = server(
        &["catalogue", "export", "--instrument", "no-such"],
        &shipped_config(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no instrument `no-such`"));
}

#[test]
fn token_create_prints_the_secret_once_and_list_and_revoke_use_ids() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        config.path().join("server.toml"),
        format!(
            "[catalogue]\ndir = {:?}\n[store.redb]\ndata_dir = {:?}\n",
            crate::support::questionnaires_dir().display().to_string(),
            data.path().display().to_string()
        ),
    )
    .expect("config");

    let created = server(
        &[
            "token",
            "create",
            "--role",
            "admin",
            "--name",
            "Secretariat",
        ],
        config.path(),
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let secret = text(&created.stdout).trim().to_owned();
    assert_eq!(secret.len(), 64, "256 random bits in hex: {secret}");
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !text(&created.stderr).contains(&secret),
        "shown once, on stdout only"
    );

    let listed = server(&["token", "list"], config.path());
    let listing = text(&listed.stdout);
    assert!(listing.contains("admin\tSecretariat\tactive"), "{listing}");
    assert!(!listing.contains(&secret), "never lists secrets");
    let id = listing.split('\t').next().expect("id").to_owned();

    let revoked = server(&["token", "revoke", &id], config.path());
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let listing = text(&server(&["token", "list"], config.path()).stdout);
    assert!(listing.contains("\trevoked"), "{listing}");

    let refused = server(
        &["token", "create", "--role", "validator", "--name", "JIU"],
        config.path(),
    );
    assert_eq!(
        refused.status.code(),
        Some(1),
        "a validator token needs a round"
    );
    assert!(text(&refused.stderr).contains("--round"));
}

/// `GET /readyz` with `Connection: close`; the status code, if an answer came.
fn readyz(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.get(9..12)?.parse().ok()
}

/// An operator (or a supervisor) may stop the server the moment it first reports ready:
/// the stop handlers are in place before the first request is served, so SIGTERM always
/// means a clean stop (exit 0, the store closed), never the signal's default action.
#[test]
fn sigterm_the_moment_the_server_is_ready_stops_it_cleanly() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        config.path().join("server.toml"),
        format!(
            "[catalogue]\ndir = {:?}\n[log]\nfilter = \"warn\"\n[reminders]\nenabled = false\n\
             [store.redb]\ndata_dir = {:?}\n",
            crate::support::questionnaires_dir().display().to_string(),
            data.path().display().to_string(),
        ),
    )
    .expect("write config");
    for attempt in 0..10 {
        let port = tests::free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_stagewise-server"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("STAGEWISE_CONFIG_DIR", config.path())
            .env_remove("STAGEWISE__CATALOGUE__DIR")
            .env_remove("STAGEWISE_PROFILE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the binary starts");
        let started = std::time::Instant::now();
        while readyz(port) != Some(200) {
            if let Some(status) = child.try_wait().expect("status") {
                panic!("attempt {attempt}: the server exited before it was ready: {status}");
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "attempt {attempt}: the server was not ready within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let status = child.wait().expect("the server exits");
        assert!(
            status.success(),
            "attempt {attempt}: SIGTERM right after ready did not stop the server cleanly: {status}"
        );
    }
}
