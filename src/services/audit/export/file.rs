//! The export's file: checked before anything is read, written privately beside its place, and put
//! there only once the export's transaction has committed — never over an existing file.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::services::ServiceError;

/// The file asked for.
#[derive(Debug)]
pub(super) struct Target {
    /// As asked for.
    pub(super) path: PathBuf,
    /// The folder it goes in (`.` for a bare name).
    pub(super) dir: PathBuf,
    pub(super) name: OsString,
}

impl Target {
    /// Refuses a path that names no file, an existing file and a missing folder, in one sentence.
    pub(super) fn check(out: &Path) -> Result<Target, ServiceError> {
        let shown = out.display();
        let Some(name) = out.file_name() else {
            return Err(ServiceError::Invalid(format!(
                "{shown} names no file; give a path like audit-export.csv."
            )));
        };
        match fs::symlink_metadata(out) {
            Ok(_) => {
                return Err(ServiceError::Invalid(format!(
                    "{shown} already exists; an export never replaces a file, so choose a new name."
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ServiceError::Invalid(format!(
                    "{shown} cannot be checked ({e}); choose another place for the export."
                )));
            }
        }
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return Err(ServiceError::Invalid(format!(
                "The folder {} does not exist; create it first or choose another place for the export.",
                dir.display()
            )));
        }
        Ok(Target {
            path: out.to_path_buf(),
            dir,
            name: name.to_os_string(),
        })
    }

    /// The path the audit row records: absolute, so it says where the copy lives.
    pub(super) fn recorded(&self) -> String {
        std::path::absolute(&self.path)
            .unwrap_or_else(|_| self.path.clone())
            .to_string_lossy()
            .into_owned()
    }

    /// A sentence for a file-system failure, without any of the file's contents.
    pub(super) fn not_written(&self, e: &io::Error) -> ServiceError {
        ServiceError::Invalid(format!(
            "The export could not be written next to {} ({e}); nothing was kept.",
            self.path.display()
        ))
    }
}

/// A file only its owner can read, created anew beside the target and removed when dropped unless
/// it was put in place.
pub(super) struct TempFile {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    kept: bool,
}

impl TempFile {
    /// Creates `.NAME.RANDOM.part` in `dir` (never an existing file or link), mode 0600.
    pub(super) fn create(dir: &Path, name: &OsStr) -> io::Result<TempFile> {
        let mut temp = OsString::from(".");
        temp.push(name);
        temp.push(format!(".{}.part", Uuid::new_v4().simple()));
        let path = dir.join(temp);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let temp = TempFile {
            path,
            file: Some(BufWriter::with_capacity(64 * 1024, file)),
            kept: false,
        };
        // The umask may have taken more away; the export is exactly owner read/write.
        if let Some(f) = &temp.file {
            f.get_ref()
                .set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        Ok(temp)
    }

    /// Where rows go, until the file is put in place.
    pub(super) fn writer(&mut self) -> io::Result<&mut BufWriter<File>> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the export file is already closed"))
    }

    /// Flushes the buffer and waits until the contents are on disk.
    pub(super) async fn finish(&mut self) -> io::Result<()> {
        let Some(buffered) = self.file.take() else {
            return Ok(());
        };
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        let file = tokio::task::spawn_blocking(move || file.sync_all().map(|()| file))
            .await
            .map_err(|_| io::Error::other("syncing the file was interrupted"))??;
        self.file = Some(BufWriter::new(file));
        Ok(())
    }

    /// Puts the file at `target` without ever replacing an existing file there (AlreadyExists).
    pub(super) fn place(mut self, target: &Target) -> io::Result<()> {
        drop(self.file.take());
        match fs::hard_link(&self.path, &target.path) {
            // Both names now point at the file; dropping `self` removes the temporary one.
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
            // A file system without hard links: check, then rename.
            Err(_) => {
                if fs::symlink_metadata(&target.path).is_ok() {
                    return Err(io::ErrorKind::AlreadyExists.into());
                }
                fs::rename(&self.path, &target.path)?;
                self.kept = true;
            }
        }
        // The new name is durable once its folder is synced; a failure here loses nothing written.
        if let Ok(dir) = File::open(&target.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_existing_file_or_missing_folder_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let existing = d.path().join("audit.csv");
        fs::write(&existing, "keep me").unwrap();
        let e = Target::check(&existing).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "audit.csv already exists; an export never replaces a file, so choose a new name."
            ),
            "{e}"
        );
        assert_eq!(fs::read_to_string(&existing).unwrap(), "keep me");

        let e = Target::check(&d.path().join("missing/audit.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("The folder ") && e.contains("missing does not exist"),
            "{e}"
        );
        assert!(Target::check(Path::new("/")).is_err());

        let t = Target::check(&d.path().join("new.csv")).unwrap();
        assert_eq!(t.dir, d.path());
        assert_eq!(
            Target::check(Path::new("bare.csv")).unwrap().dir,
            Path::new(".")
        );
    }

    #[tokio::test]
    async fn a_dropped_temporary_file_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let mut temp = TempFile::create(d.path(), "audit.csv".as_ref()).unwrap();
        temp.writer().unwrap().write_all(b"rows").unwrap();
        let mode = fs::metadata(&temp.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(files_in(d.path()).len(), 1);
        temp.finish().await.unwrap();
        drop(temp);
        assert!(files_in(d.path()).is_empty());
    }

    #[tokio::test]
    async fn a_placed_file_is_private_and_alone() {
        let d = tempfile::tempdir().unwrap();
        let target = Target::check(&d.path().join("audit.jsonl")).unwrap();
        let mut temp = TempFile::create(&target.dir, &target.name).unwrap();
        temp.writer().unwrap().write_all(b"{}\n").unwrap();
        temp.finish().await.unwrap();
        temp.place(&target).unwrap();
        assert_eq!(files_in(d.path()), ["audit.jsonl"]);
        assert_eq!(fs::read_to_string(&target.path).unwrap(), "{}\n");
        let mode = fs::metadata(&target.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn a_file_that_appeared_meanwhile_is_not_replaced() {
        let d = tempfile::tempdir().unwrap();
        let target = Target::check(&d.path().join("audit.csv")).unwrap();
        let mut temp = TempFile::create(&target.dir, &target.name).unwrap();
        temp.writer().unwrap().write_all(b"rows").unwrap();
        temp.finish().await.unwrap();
        fs::write(&target.path, "theirs").unwrap();
        let e = temp.place(&target).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&target.path).unwrap(), "theirs");
        assert_eq!(files_in(d.path()), ["audit.csv"]);
    }
}
