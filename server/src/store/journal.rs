//! The embedded store's journal: an append-only file beside the redb file that makes
//! answer writes durable with one short sequential sync.
//!
//! A durable redb commit rewrites every B-tree page the batch touched (about three per
//! saved answer, scattered over the file) and syncs them all; the journal instead appends
//! the batch's requests, a few hundred bytes each, and syncs that. The writer commits such
//! a batch to redb without syncing, so it is acknowledged once its journal entry is synced;
//! every so often it commits durably (a checkpoint) and empties the journal. After a crash
//! redb opens at its last durable commit, and the entries after it are run again, in
//! order (see [`super::redb`]).
//!
//! Emptying the journal does not shorten the file: it zeroes the first entry's header, and
//! the next entries are written over the old ones from the start. Once the file has grown
//! to what a checkpoint interval writes, an entry's sync then flushes only its own data,
//! where an append that makes the file longer must also write the file's size (a third of
//! the time of such a sync on the development machine's disk). The old entries left behind
//! the new ones carry lower numbers, so reading stops at the first of them.
//!
//! # Format
//!
//! A sequence of entries, each: payload length (`u32`, little-endian), entry number
//! (`u64`, little-endian), CRC-32 of the number's eight bytes followed by the payload
//! (`u32`, little-endian), then the payload. Numbers follow each other by one. Reading
//! stops at the first entry that is cut short, fails its checksum or does not follow its
//! predecessor: a crash during an append leaves at most the last entry torn, and that
//! entry was never acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes before each entry's payload.
const HEADER: usize = 16;

/// The largest payload: far above any batch written (a batch holds at most
/// [`super::redb::MAX_BATCH`] requests of bounded size). [`Journal::write`] refuses a
/// larger one, so reading takes a larger length for damage.
const MAX_PAYLOAD: usize = 256 << 20;

/// One journal entry: a numbered batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its number; the next entry's is one more.
    pub number: u64,
    /// What the batch recorded (for the redb store, a JSON array of request records).
    pub payload: Vec<u8>,
}

/// The open journal file, written by one writer.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    /// Bytes of whole entries since the journal was last emptied: where the next entry
    /// goes. A write that fails is cut back to this length.
    len: u64,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads the entries it holds, in order.
    ///
    /// # Errors
    /// When the file cannot be created, opened or read.
    pub fn open(path: &Path) -> io::Result<(Self, Vec<Entry>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let entries = parse(&bytes);
        let len = entries
            .iter()
            .map(|entry| HEADER + entry.payload.len())
            .sum::<usize>();
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        Ok((
            Self {
                file,
                path: path.to_owned(),
                len,
            },
            entries,
        ))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the entries held (the file may be longer: see the module documentation).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the journal holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes an entry after the ones held, without syncing it: it survives a crash of the
    /// process at once, and one of the machine once a sync through a
    /// [`sync_handle`](Self::sync_handle) that began after this has returned.
    ///
    /// # Errors
    /// When the payload is over [`MAX_PAYLOAD`] (nothing is written), or the write fails.
    /// The file is then cut back to its entries before this one; if even that fails, the
    /// error says so and the journal must not be appended to again (a torn entry would
    /// hide every later one).
    pub fn write(&mut self, number: u64, payload: &[u8]) -> io::Result<()> {
        if payload.len() > MAX_PAYLOAD {
            return Err(io::Error::other(format!(
                "a journal entry of {} bytes is over the limit of {MAX_PAYLOAD}",
                payload.len()
            )));
        }
        let framed = frame(number, payload);
        match self.file.write_all_at(&framed, self.len) {
            Ok(()) => {
                self.len += u64::try_from(framed.len()).unwrap_or(u64::MAX);
                Ok(())
            }
            Err(e) => match self.file.set_len(self.len) {
                Ok(()) => Err(e),
                Err(cut) => Err(io::Error::other(format!(
                    "{e}; cutting the torn entry off failed too: {cut}"
                ))),
            },
        }
    }

    /// Appends an entry and syncs it (tests; the store syncs from its syncer thread).
    ///
    /// # Errors
    /// As [`write`](Self::write), or when the sync fails.
    #[cfg(test)]
    pub fn append(&mut self, number: u64, payload: &[u8]) -> io::Result<()> {
        self.write(number, payload)?;
        self.file.sync_data()
    }

    /// A second handle on the file, for syncing it from another thread while this one
    /// goes on writing. A sync covers every write made before it starts; when one fails,
    /// what was written since the last successful one may be lost in a crash of the
    /// machine even after a later sync succeeds.
    ///
    /// # Errors
    /// When the operating system cannot duplicate the handle.
    pub fn sync_handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Empties the journal, once what it held is durable elsewhere: the first entry's
    /// header is zeroed, so that reading finds nothing, and the next entry is written at
    /// the start of the file, over the old ones. Not synced: entries that are read again
    /// after a crash are ones the store has already applied, and are skipped by number.
    ///
    /// # Errors
    /// When the header cannot be written.
    pub fn clear(&mut self) -> io::Result<()> {
        self.file.write_all_at(&[0; HEADER], 0)?;
        self.len = 0;
        Ok(())
    }
}

/// The bytes of one entry.
pub fn frame(number: u64, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(&number.to_le_bytes());
    bytes.extend_from_slice(&checksum(number, payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// The entries of a journal's bytes, up to the first torn, damaged or out-of-sequence one.
pub fn parse(mut bytes: &[u8]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    while let Some((header, rest)) = bytes.split_first_chunk::<HEADER>() {
        let [
            l0,
            l1,
            l2,
            l3,
            n0,
            n1,
            n2,
            n3,
            n4,
            n5,
            n6,
            n7,
            c0,
            c1,
            c2,
            c3,
        ] = *header;
        let length = usize::try_from(u32::from_le_bytes([l0, l1, l2, l3])).unwrap_or(usize::MAX);
        let number = u64::from_le_bytes([n0, n1, n2, n3, n4, n5, n6, n7]);
        let sum = u32::from_le_bytes([c0, c1, c2, c3]);
        if length > MAX_PAYLOAD || length > rest.len() {
            break;
        }
        let (payload, after) = rest.split_at(length);
        let follows = entries
            .last()
            .is_none_or(|last| last.number.checked_add(1) == Some(number));
        if checksum(number, payload) != sum || !follows {
            break;
        }
        entries.push(Entry {
            number,
            payload: payload.to_vec(),
        });
        bytes = after;
    }
    entries
}

fn checksum(number: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&number.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(entries: &[(u64, &[u8])]) -> Vec<u8> {
        entries
            .iter()
            .flat_map(|(number, payload)| frame(*number, payload))
            .collect()
    }

    #[test]
    fn entries_read_back_in_order() {
        let bytes = bytes_of(&[(7, b"[1]"), (8, b""), (9, b"[3,4]")]);
        let entries = parse(&bytes);
        assert_eq!(
            entries,
            vec![
                Entry {
                    number: 7,
                    payload: b"[1]".to_vec()
                },
                Entry {
                    number: 8,
                    payload: Vec::new()
                },
                Entry {
                    number: 9,
                    payload: b"[3,4]".to_vec()
                },
            ]
        );
    }

    #[test]
    fn a_torn_last_entry_is_left_out() {
        let whole = bytes_of(&[(1, b"first"), (2, b"second")]);
        for cut in 1..frame(2, b"second").len() {
            let entries = parse(&whole[..whole.len() - cut]);
            assert_eq!(entries.len(), 1, "cut {cut} bytes");
            assert_eq!(entries[0].payload, b"first");
        }
    }

    #[test]
    fn reading_stops_at_a_damaged_entry() {
        let mut bytes = bytes_of(&[(1, b"one"), (2, b"two"), (3, b"three")]);
        // Flip a bit of the second entry's payload.
        let second = frame(1, b"one").len() + HEADER;
        bytes[second] ^= 1;
        let entries = parse(&bytes);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].number, 1);
    }

    #[test]
    fn reading_stops_where_numbers_do_not_follow() {
        // What a clear that was lost in a crash could leave: new entries written over the
        // start of old ones, which carry lower numbers.
        let bytes = bytes_of(&[(5, b"new"), (6, b"new"), (2, b"old"), (3, b"old")]);
        let numbers: Vec<u64> = parse(&bytes).iter().map(|e| e.number).collect();
        assert_eq!(numbers, vec![5, 6]);
        let gap = bytes_of(&[(1, b"a"), (3, b"c")]);
        assert_eq!(parse(&gap).len(), 1);
    }

    #[test]
    fn an_implausible_length_is_damage_not_an_allocation() {
        let mut bytes = frame(1, b"x");
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&bytes).is_empty());
    }

    #[test]
    fn an_entry_over_the_limit_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j");
        let (mut journal, _) = Journal::open(&path).expect("creates");
        journal.append(1, b"[]").expect("appends");
        let before = journal.len();
        let huge = vec![0_u8; MAX_PAYLOAD + 1];
        assert!(journal.append(2, &huge).is_err());
        assert_eq!(journal.len(), before);
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), before);
        journal.append(2, b"[]").expect("appends after the refusal");
        drop(journal);
        assert_eq!(Journal::open(&path).expect("reopens").1.len(), 2);
    }

    #[test]
    fn appends_survive_reopening_and_a_clear_empties() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j");
        let (mut journal, entries) = Journal::open(&path).expect("creates");
        assert!(entries.is_empty() && journal.is_empty());
        journal.append(1, b"[\"a\"]").expect("appends");
        journal.append(2, b"[\"b\"]").expect("appends");
        assert_eq!(journal.len(), std::fs::metadata(&path).expect("meta").len());
        drop(journal);

        let (mut journal, entries) = Journal::open(&path).expect("reopens");
        assert_eq!(
            entries.iter().map(|e| e.number).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(journal.len(), size(&path));
        journal.clear().expect("clears");
        assert!(journal.is_empty());
        journal.append(3, b"[]").expect("writes after a clear");
        drop(journal);
        let (_, entries) = Journal::open(&path).expect("reopens");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].number, 3);
    }

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).expect("meta").len()
    }

    #[test]
    fn after_a_clear_entries_are_written_over_the_old_ones_and_the_file_grows_only_past_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j");
        let (mut journal, _) = Journal::open(&path).expect("creates");
        for number in 1..=4 {
            journal.append(number, b"[\"abcdef\"]").expect("appends");
        }
        let grown = size(&path);
        assert_eq!(journal.len(), grown);

        // Emptied: the file keeps its size, and reading finds nothing.
        journal.clear().expect("clears");
        assert_eq!(size(&path), grown);
        assert!(Journal::open(&path).expect("reopens").1.is_empty());

        // Two entries of the same size go where the first two were; the file keeps its
        // size, and only the new entries are read back (the old ones have lower numbers).
        journal.append(5, b"[\"ghijkl\"]").expect("writes");
        journal.append(6, b"[\"mnopqr\"]").expect("writes");
        assert_eq!(size(&path), grown);
        assert_eq!(journal.len(), grown / 2);
        let (reopened, entries) = Journal::open(&path).expect("reopens");
        assert_eq!(
            entries.iter().map(|e| e.number).collect::<Vec<_>>(),
            vec![5, 6]
        );
        assert_eq!(entries[1].payload, b"[\"mnopqr\"]");
        assert_eq!(reopened.len(), grown / 2);

        // A shorter entry leaves part of an old one behind it: reading stops there too.
        journal.append(7, b"[]").expect("writes");
        let entries = Journal::open(&path).expect("reopens").1;
        assert_eq!(
            entries.iter().map(|e| e.number).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );

        // Past the old entries the file grows again.
        for number in 8..=10 {
            journal.append(number, b"[\"stuvwx\"]").expect("writes");
        }
        assert_eq!(size(&path), journal.len());
        assert!(journal.len() > grown);
        assert_eq!(Journal::open(&path).expect("reopens").1.len(), 6);
    }
}
