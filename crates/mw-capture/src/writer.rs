//! [`RotatingWriter`]: appends JSON lines to the hour folder of each record,
//! starting a new file when the hour changes or the file reaches its size
//! bound.
//!
//! Lines are buffered and reach the file at [`RotatingWriter::commit`], which
//! also `fdatasync`s when durable writes are on (and syncs the folder after a
//! new file is created), so a batch that was committed survives a crash.
//! Readers only trust complete lines: a torn last line is skipped.
//!
//! A [`CreateHook`] (set with [`RotatingWriter::on_create`]) is told of each
//! new file before any line is written to it; the server's store records the
//! file in its catalog there.

use crate::error::{Error, Result};
use crate::layout;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Bytes a file's buffer holds before they are written: one system call
/// each. Small enough that a writer at a low priority keeps the core for
/// a short while only (a kernel without kernel preemption finishes each
/// call before a woken process runs), large enough to be a few calls per
/// batch.
pub const WRITE_BYTES: usize = 16 * 1024;

/// Rotation and durability settings.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// A file is closed when the next line would take it past this size
    /// (a single larger line still gets a file of its own).
    pub max_file_bytes: u64,
    /// `fdatasync` on every commit.
    pub sync: bool,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_file_bytes: 64 * 1024 * 1024,
            sync: true,
        }
    }
}

struct OpenFile {
    hour: i64,
    path: PathBuf,
    out: BufWriter<File>,
    bytes: u64,
}

/// Called with the path and hour start (epoch milliseconds) of each new file,
/// after it is created and before anything is written to it. An error fails
/// the append, and the empty file is removed.
pub type CreateHook = Box<dyn FnMut(&Path, i64) -> Result<()> + Send>;

/// Writes the files of one `<root>/<endpoint>/<variant>` (or ground-truth)
/// folder.
pub struct RotatingWriter {
    base: PathBuf,
    cfg: WriterConfig,
    cur: Option<OpenFile>,
    files_created: u64,
    on_create: Option<CreateHook>,
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing folder {}", dir.display()), e))
}

impl RotatingWriter {
    pub fn new(base: PathBuf, cfg: WriterConfig) -> RotatingWriter {
        RotatingWriter {
            base,
            cfg,
            cur: None,
            files_created: 0,
            on_create: None,
        }
    }

    /// Calls `hook` for each file this writer creates.
    pub fn on_create(mut self, hook: CreateHook) -> RotatingWriter {
        self.on_create = Some(hook);
        self
    }

    /// Appends one line (which must end with `\n`) for a record of time `time_ms`.
    pub fn append(&mut self, time_ms: i64, line: &[u8]) -> Result<()> {
        let hour = layout::hour_floor(time_ms);
        let rotate = match &self.cur {
            None => true,
            Some(f) => {
                f.hour != hour
                    || (f.bytes > 0 && f.bytes + line.len() as u64 > self.cfg.max_file_bytes)
            }
        };
        if rotate {
            self.commit()?;
            self.cur = None;
            self.open(hour)?;
        }
        let Some(f) = self.cur.as_mut() else {
            return Err(Error::io(
                "capture file",
                std::io::Error::other("no open file after rotation"),
            ));
        };
        f.out
            .write_all(line)
            .map_err(|e| Error::io(format!("writing {}", f.path.display()), e))?;
        f.bytes += line.len() as u64;
        Ok(())
    }

    fn open(&mut self, hour: i64) -> Result<()> {
        let dir = self.base.join(layout::hour_path(hour));
        let created = !dir.exists();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let path = dir.join(layout::file_name(mw_model::time::now_ms()));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        if self.cfg.sync {
            sync_dir(&dir)?;
            if created {
                // The new hour folder (and possibly its parents) must survive too.
                let mut p = dir.parent();
                while let Some(d) = p {
                    sync_dir(d)?;
                    if d == self.base.as_path() {
                        break;
                    }
                    p = d.parent();
                }
            }
        }
        if let Some(hook) = self.on_create.as_mut() {
            if let Err(e) = hook(&path, hour) {
                drop(file);
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        }
        self.files_created += 1;
        self.cur = Some(OpenFile {
            hour,
            path,
            out: BufWriter::with_capacity(WRITE_BYTES, file),
            bytes: 0,
        });
        Ok(())
    }

    /// Writes buffered lines to the file and, when durable, syncs it.
    pub fn commit(&mut self) -> Result<()> {
        if let Some(f) = self.cur.as_mut() {
            f.out
                .flush()
                .map_err(|e| Error::io(format!("writing {}", f.path.display()), e))?;
            if self.cfg.sync {
                f.out
                    .get_ref()
                    .sync_data()
                    .map_err(|e| Error::io(format!("syncing {}", f.path.display()), e))?;
            }
        }
        Ok(())
    }

    /// Commits and closes the current file; the next append starts a new one.
    pub fn close(&mut self) -> Result<()> {
        self.commit()?;
        self.cur = None;
        Ok(())
    }

    /// The file being written, if any.
    pub fn current_file(&self) -> Option<&Path> {
        self.cur.as_ref().map(|f| f.path.as_path())
    }

    /// How many files this writer has created.
    pub fn files_created(&self) -> u64 {
        self.files_created
    }
}

impl Drop for RotatingWriter {
    fn drop(&mut self) {
        let _ = self.commit();
    }
}
