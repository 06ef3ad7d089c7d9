use std::path::{Path, PathBuf};

use server::catalogue::Catalogue;

pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate sits in the workspace")
        .to_path_buf()
}

pub fn questionnaires_dir() -> PathBuf {
    repository_root().join("questionnaires")
}

pub fn shipped() -> Catalogue {
    Catalogue::load(&questionnaires_dir()).unwrap_or_else(|error| panic!("{error}"))
}

/// A copy of the shipped catalogue in a fresh temporary folder, to be broken by a test.
/// Returns the temporary folder (keep it alive) and the copied `questionnaires` folder.
pub fn copy_of_shipped() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("temp dir");
    let target = temp.path().join("questionnaires");
    copy_dir(&questionnaires_dir(), &target);
    (temp, target)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy file");
        }
    }
}
