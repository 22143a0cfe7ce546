//! `--pid-file FILE`: the process id, written once every socket is bound and removed on a
//! clean exit, for supervisors and scripts that find a daemon by its file.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A pid file this process wrote.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

/// The pid file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the pid file {}: {source}", path.display())]
pub struct PidFileError {
    /// The file asked for.
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: io::Error,
}

impl PidFile {
    /// Writes this process's id and a newline to `path`, replacing a stale file. Written
    /// whole to a temporary name beside it, then renamed, so a reader never sees a
    /// partial id.
    pub fn create(path: &Path) -> Result<PidFile, PidFileError> {
        let fail = |source| PidFileError {
            path: path.to_owned(),
            source,
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let written = std::fs::File::create(&temporary)
            .and_then(|mut file| writeln!(file, "{}", std::process::id()))
            .and_then(|()| std::fs::rename(&temporary, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(fail(e));
        }
        Ok(PidFile {
            path: path.to_owned(),
        })
    }

    /// Removes the file; a file already gone is not an error.
    pub fn remove(self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the pid file")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_this_process_id_until_removed() {
        let dir = std::env::temp_dir().join(format!("reverb-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("reverb.pid");
        let pid = PidFile::create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        pid.remove();
        assert!(!path.exists());
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn an_unwritable_place_is_a_clear_error() {
        let error = PidFile::create(Path::new("/nonexistent-reverb-dir/reverb.pid")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot write the pid file /nonexistent-reverb-dir/reverb.pid: No such file or \
             directory (os error 2)"
        );
    }
}
