//! The write-ahead log shared by the stores: every acknowledged batch is in it
//! before the caller hears back, so a `kill -9` loses nothing.
//!
//! Files are `wal/<seq:016>.log`, each a run of frames
//! `[len: u32 LE][crc32(payload): u32 LE][payload]` (format in
//! `docs/formats/wal.md`). A checkpoint starts a new file; files wholly applied to
//! the bucket store are deleted. On replay a torn or corrupt tail frame ends the
//! file: it was never acknowledged.
//!
//! With [`SyncMode::Always`] appends are group-committed: whichever writer finds
//! no flush running writes every pending frame and `fdatasync`s once for all of
//! them, while the others wait for their frame to be covered.

/// Failures of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("write-ahead log i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Failed(String),
}

/// What kind of failure an [`Error`] is (all are internal to the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Internal,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

use parking_lot::{Condvar, Mutex};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// How far an append goes before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Written and fsynced: survives power loss.
    Always,
    /// Written to the OS: survives the process being killed, not power loss.
    None,
}

/// Largest frame accepted on replay (a batch is bounded well below this).
const MAX_FRAME: usize = 64 << 20;

struct State {
    file: File,
    seq: u64,
    pending: Vec<u8>,
    appended: u64,
    synced: u64,
    syncing: bool,
    failed: Option<String>,
    /// Bytes of whole frames in `file`.
    len: u64,
}

/// An open log directory.
pub struct Wal {
    dir: PathBuf,
    mode: SyncMode,
    state: Mutex<State>,
    done: Condvar,
}

fn file_name(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.log"))
}

/// The sequence numbers of the log files in `dir`, ascending.
pub fn list(dir: &Path) -> Result<Vec<u64>> {
    let mut seqs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".log") {
            if let Ok(seq) = stem.parse::<u64>() {
                seqs.push(seq);
            }
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Calls `f` with each intact frame payload of log `seq`; truncates a torn tail.
pub fn replay<E: From<Error>>(
    dir: &Path,
    seq: u64,
    mut f: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let path = file_name(dir, seq);
    let mut data = Vec::new();
    File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(Error::Io)?;
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().expect("4 bytes"));
        if len > MAX_FRAME || pos + 8 + len > data.len() {
            break;
        }
        let payload = &data[pos + 8..pos + 8 + len];
        if crc32(payload) != crc {
            break;
        }
        f(payload)?;
        pos += 8 + len;
    }
    if pos < data.len() {
        tracing::warn!(file = %path.display(), valid = pos, len = data.len(), "truncating torn write-ahead log tail");
        OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| {
                file.set_len(pos as u64)?;
                file.sync_all()
            })
            .map_err(Error::Io)?;
    }
    Ok(())
}

impl Wal {
    /// Opens a new log file with sequence `seq` in `dir`.
    pub fn create(dir: &Path, seq: u64, mode: SyncMode) -> Result<Wal> {
        std::fs::create_dir_all(dir)?;
        let file = open_append(dir, seq)?;
        let len = file.metadata()?.len();
        Ok(Wal {
            dir: dir.to_path_buf(),
            mode,
            state: Mutex::new(State {
                file,
                seq,
                pending: Vec::new(),
                appended: 0,
                synced: 0,
                syncing: false,
                failed: None,
                len,
            }),
            done: Condvar::new(),
        })
    }

    /// The sequence number of the file being written.
    pub fn seq(&self) -> u64 {
        self.state.lock().seq
    }

    /// Appends one frame and returns once it is as durable as the mode promises.
    pub fn append(&self, payload: &[u8]) -> Result<()> {
        let mut st = self.state.lock();
        if let Some(e) = &st.failed {
            return Err(Error::Failed(format!(
                "write-ahead log failed earlier: {e}"
            )));
        }
        st.pending
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        st.pending.extend_from_slice(&crc32(payload).to_le_bytes());
        st.pending.extend_from_slice(payload);
        if self.mode == SyncMode::None {
            let buf = std::mem::take(&mut st.pending);
            if let Err(e) = st.file.write_all(&buf) {
                // Cut the partial frame, or later frames would sit behind a torn one.
                let len = st.len;
                if let Err(e2) = st.file.set_len(len) {
                    st.failed = Some(e2.to_string());
                }
                return Err(e.into());
            }
            st.len += buf.len() as u64;
            return Ok(());
        }
        st.appended += 1;
        let mine = st.appended;
        loop {
            if st.synced >= mine {
                return Ok(());
            }
            if let Some(e) = &st.failed {
                return Err(Error::Failed(format!("write-ahead log write failed: {e}")));
            }
            if st.syncing {
                self.done.wait(&mut st);
                continue;
            }
            st.syncing = true;
            let buf = std::mem::take(&mut st.pending);
            let upto = st.appended;
            let mut file = st.file.try_clone()?;
            drop(st);
            let res = file.write_all(&buf).and_then(|_| file.sync_data());
            st = self.state.lock();
            st.syncing = false;
            match res {
                Ok(()) => {
                    st.synced = upto;
                    st.len += buf.len() as u64;
                }
                Err(e) => st.failed = Some(e.to_string()),
            }
            self.done.notify_all();
        }
    }

    /// Starts the next log file and returns the sequence of the one closed.
    /// Callers make sure no append is in flight.
    pub fn rotate(&self) -> Result<u64> {
        let mut st = self.state.lock();
        while st.syncing {
            self.done.wait(&mut st);
        }
        if !st.pending.is_empty() {
            let buf = std::mem::take(&mut st.pending);
            st.file.write_all(&buf)?;
            st.len += buf.len() as u64;
        }
        st.file.sync_data()?;
        let old = st.seq;
        st.file = open_append(&self.dir, old + 1)?;
        st.seq = old + 1;
        st.len = 0;
        Ok(old)
    }

    /// Flushes and fsyncs the current file (for shutdown).
    pub fn sync(&self) -> Result<()> {
        let mut st = self.state.lock();
        while st.syncing {
            self.done.wait(&mut st);
        }
        let buf = std::mem::take(&mut st.pending);
        st.file.write_all(&buf)?;
        st.len += buf.len() as u64;
        st.file.sync_data()?;
        Ok(())
    }

    /// Deletes log files with sequence `<= seq`.
    pub fn remove_upto(&self, seq: u64) -> Result<()> {
        for s in list(&self.dir)? {
            if s <= seq {
                std::fs::remove_file(file_name(&self.dir, s))?;
            }
        }
        Ok(())
    }
}

fn open_append(dir: &Path, seq: u64) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(file_name(dir, seq))?;
    // Make the new file's directory entry durable too.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(file)
}

/// CRC-32 (IEEE), table-driven.
pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut c = !0u32;
    for b in data {
        c = table[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mw-wal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn frames_survive_and_torn_tails_are_cut() {
        let dir = tmp("torn");
        let wal = Wal::create(&dir, 1, SyncMode::Always).unwrap();
        wal.append(b"one").unwrap();
        wal.append(b"two").unwrap();
        drop(wal);
        // A half-written third frame.
        let mut f = OpenOptions::new()
            .append(true)
            .open(file_name(&dir, 1))
            .unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        let mut got = Vec::new();
        replay(&dir, 1, |p| -> Result<()> {
            got.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
        // The tail is gone: appending again yields clean frames.
        let wal = Wal::create(&dir, 1, SyncMode::None).unwrap();
        wal.append(b"three").unwrap();
        let mut n = 0;
        replay(&dir, 1, |_| -> Result<()> {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn group_commit_covers_concurrent_writers() {
        let dir = tmp("group");
        let wal = std::sync::Arc::new(Wal::create(&dir, 7, SyncMode::Always).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let wal = wal.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        wal.append(format!("{t}-{i}").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(wal.rotate().unwrap(), 7);
        let mut n = 0;
        replay(&dir, 7, |_| -> Result<()> {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 200);
        assert_eq!(list(&dir).unwrap(), vec![7, 8]);
        wal.remove_upto(7).unwrap();
        assert_eq!(list(&dir).unwrap(), vec![8]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
