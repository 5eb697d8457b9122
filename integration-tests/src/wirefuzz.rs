//! Wire fuzzing: recorded client sessions (`wire-recordings/*.wire`) replayed with mutations at
//! the message level (dropped, duplicated, reordered, foreign and out-of-place messages) and at
//! the byte level (flipped bits, garbage, wrong and huge lengths, truncation, absurd counts), each
//! over a fresh TCP connection with short timeouts, followed by a check that the server still
//! answers `SELECT 1` on another fresh connection.
//!
//! Everything random comes from [`Rng`] (splitmix64): case `n` of seed `s` is always the same
//! bytes, so a failure is reproduced from the two numbers it prints. Servers may answer a
//! malformed session with an error or by closing the socket; both are fine. What is not fine is
//! a server that stops answering others (it crashed, hangs or ran away with memory).

use crate::splitmix::SplitMix64;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const SSL_REQUEST: u32 = 80_877_103;
const GSS_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
const PROTOCOL_3_0: u32 = 0x0003_0000;

// ---------------------------------------------------------------------------------------------
// Randomness

/// The fuzzer's choices, over [`SplitMix64`].
#[derive(Clone, Debug)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// Between `lo` and `hi` random bytes.
    pub fn junk(&mut self, lo: usize, hi: usize) -> Vec<u8> {
        let n = self.range(lo, hi);
        self.bytes(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Recordings

/// One recorded client connection: its frontend messages, startup packet first.
#[derive(Clone, Debug)]
pub struct Recording {
    pub name: String,
    pub messages: Vec<Vec<u8>>,
}

/// `integration-tests/wire-recordings`.
pub fn recordings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("wire-recordings")
}

/// Every `*.wire` file of `dir`, sorted by name.
pub fn load_recordings(dir: &Path) -> Result<Vec<Recording>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wire"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path.file_stem().unwrap_or_default().to_string_lossy();
            parse_recording(&name, &text)
        })
        .collect()
}

/// One message a line, in hex; `#` starts a comment.
pub fn parse_recording(name: &str, text: &str) -> Result<Recording, String> {
    let mut messages = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let hex = line.split('#').next().unwrap_or("").trim();
        if hex.is_empty() {
            continue;
        }
        let bytes = from_hex(hex).ok_or_else(|| format!("{name}.wire:{}: not hex", n + 1))?;
        messages.push(bytes);
    }
    if messages.is_empty() {
        return Err(format!("{name}.wire has no messages"));
    }
    Ok(Recording {
        name: name.to_string(),
        messages,
    })
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Frames: one frontend message each, well-formed or not

/// One message as sent. `typed` messages have a type byte before the length (everything after
/// the startup packet); startup-phase packets (SSLRequest, StartupMessage, CancelRequest) do not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub bytes: Vec<u8>,
    pub typed: bool,
}

impl Frame {
    fn typed(kind: u8, body: &[u8]) -> Frame {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        bytes.extend_from_slice(body);
        Frame { bytes, typed: true }
    }

    fn untyped(body: &[u8]) -> Frame {
        let mut bytes = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(body);
        Frame {
            bytes,
            typed: false,
        }
    }

    fn header_len(&self) -> usize {
        if self.typed { 5 } else { 4 }
    }

    fn kind(&self) -> Option<u8> {
        self.typed.then(|| self.bytes.first().copied()).flatten()
    }

    /// The startup-phase code (protocol version, SSLRequest, CancelRequest), if untyped.
    fn code(&self) -> Option<u32> {
        (!self.typed && self.bytes.len() >= 8)
            .then(|| u32::from_be_bytes(self.bytes[4..8].try_into().expect("4 bytes")))
    }

    fn body(&self) -> &[u8] {
        self.bytes.get(self.header_len()..).unwrap_or(&[])
    }

    fn set_body(&mut self, body: &[u8]) {
        let header = self.header_len().min(self.bytes.len());
        self.bytes.truncate(header);
        self.bytes.extend_from_slice(body);
        self.fix_length();
    }

    /// Makes the length field tell the truth again.
    fn fix_length(&mut self) {
        let offset = usize::from(self.typed);
        if self.bytes.len() >= offset + 4 {
            let len = (self.bytes.len() - offset) as u32;
            self.bytes[offset..offset + 4].copy_from_slice(&len.to_be_bytes());
        }
    }

    fn set_length_field(&mut self, value: u32) {
        let offset = usize::from(self.typed);
        if self.bytes.len() < offset + 4 {
            self.bytes.resize(offset + 4, 0);
        }
        self.bytes[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
    }

    fn label(&self) -> String {
        match (self.kind(), self.code()) {
            (Some(k), _) if k.is_ascii_graphic() => (k as char).to_string(),
            (Some(k), _) => format!("0x{k:02x}"),
            (None, Some(SSL_REQUEST)) => "SSLRequest".into(),
            (None, Some(GSS_REQUEST)) => "GSSENCRequest".into(),
            (None, Some(CANCEL_REQUEST)) => "CancelRequest".into(),
            (None, _) => "startup".into(),
        }
    }
}

fn cstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

fn startup_frame(params: &[(&[u8], &[u8])], version: u32) -> Frame {
    let mut body = version.to_be_bytes().to_vec();
    for (k, v) in params {
        cstr(&mut body, k);
        cstr(&mut body, v);
    }
    body.push(0);
    Frame::untyped(&body)
}

fn cancel_frame(pid: i32, secret: &[u8]) -> Frame {
    let mut body = CANCEL_REQUEST.to_be_bytes().to_vec();
    body.extend_from_slice(&pid.to_be_bytes());
    body.extend_from_slice(secret);
    Frame::untyped(&body)
}

fn query_frame(sql: &str) -> Frame {
    let mut body = Vec::new();
    cstr(&mut body, sql.as_bytes());
    Frame::typed(b'Q', &body)
}

/// Reads a NUL-terminated string at `*at`.
fn take_cstr<'a>(body: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let rest = body.get(*at..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    *at += end + 1;
    Some(&rest[..end])
}

fn take_i16(body: &[u8], at: &mut usize) -> Option<i16> {
    let v = i16::from_be_bytes(body.get(*at..*at + 2)?.try_into().ok()?);
    *at += 2;
    Some(v)
}

fn take_i32(body: &[u8], at: &mut usize) -> Option<i32> {
    let v = i32::from_be_bytes(body.get(*at..*at + 4)?.try_into().ok()?);
    *at += 4;
    Some(v)
}

/// A Bind message taken apart, to be put back together wrongly.
#[derive(Clone, Debug)]
struct Bind {
    portal: Vec<u8>,
    statement: Vec<u8>,
    formats: Vec<i16>,
    params: Vec<Option<Vec<u8>>>,
    results: Vec<i16>,
}

impl Bind {
    fn parse(body: &[u8]) -> Option<Bind> {
        let mut at = 0;
        let portal = take_cstr(body, &mut at)?.to_vec();
        let statement = take_cstr(body, &mut at)?.to_vec();
        let nf = take_i16(body, &mut at)?;
        let formats = (0..nf)
            .map(|_| take_i16(body, &mut at))
            .collect::<Option<_>>()?;
        let np = take_i16(body, &mut at)?;
        let mut params = Vec::new();
        for _ in 0..np {
            let len = take_i32(body, &mut at)?;
            if len < 0 {
                params.push(None);
            } else {
                let value = body.get(at..at + len as usize)?.to_vec();
                at += len as usize;
                params.push(Some(value));
            }
        }
        let nr = take_i16(body, &mut at)?;
        let results = (0..nr)
            .map(|_| take_i16(body, &mut at))
            .collect::<Option<_>>()?;
        Some(Bind {
            portal,
            statement,
            formats,
            params,
            results,
        })
    }

    /// Encodes with the counts given (which may lie).
    fn encode(&self, format_count: i16, param_count: i16, result_count: i16) -> Vec<u8> {
        let mut out = Vec::new();
        cstr(&mut out, &self.portal);
        cstr(&mut out, &self.statement);
        out.extend_from_slice(&format_count.to_be_bytes());
        for f in &self.formats {
            out.extend_from_slice(&f.to_be_bytes());
        }
        out.extend_from_slice(&param_count.to_be_bytes());
        for p in &self.params {
            match p {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    out.extend_from_slice(v);
                }
            }
        }
        out.extend_from_slice(&result_count.to_be_bytes());
        for r in &self.results {
            out.extend_from_slice(&r.to_be_bytes());
        }
        out
    }

    fn encode_honest(&self) -> Vec<u8> {
        self.encode(
            self.formats.len() as i16,
            self.params.len() as i16,
            self.results.len() as i16,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

/// How a case's connection ends once every frame is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Half-close (the server sees end of file) and wait for the server to close.
    Close,
    /// Keep the socket open, silent, until nothing more arrives; then drop it.
    Hang,
}

/// One mutated session: what is sent over one connection.
#[derive(Clone, Debug)]
pub struct Case {
    pub seed: u64,
    pub number: u64,
    pub recording: String,
    pub mutations: Vec<String>,
    pub frames: Vec<Frame>,
    pub ending: Ending,
    /// Write in chunks of a few bytes instead of one write per message.
    pub fragmented: bool,
    /// After this many frames, send a CancelRequest for this very connection (with the key it
    /// got in BackendKeyData), mangled as `cancel_mangle` says.
    pub cancel_after: Option<usize>,
    pub cancel_mangle: u8,
}

const INTERESTING_LENGTHS: &[u32] = &[
    0,
    1,
    3,
    4,
    5,
    8,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0xffff_fffc,
    0x3fff_fffe,
    0x3fff_ffff,
    0x4000_0000,
    0x0001_0000,
    10_000,
    10_001,
];

const INTERESTING_I16: &[i16] = &[0, 1, -1, -2, 2, 3, 0x7fff, i16::MIN, 0x100];

const INTERESTING_I32: &[i32] = &[0, 1, -1, -2, 0x7fff_ffff, i32::MIN, 0x4000_0000, 65_536];

/// SQL put into mutated Query and Parse messages.
const EDGE_SQL: &[&str] = &[
    "",
    ";",
    " ",
    "SELECT $1",
    "SELECT $2, $1",
    "SELECT $99999",
    "SELECT $0",
    "SELECT 1; SELECT 2",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "BEGIN; SELECT 1/0",
    "COPY wf_items FROM STDIN",
    "COPY wf_items TO STDOUT",
    "COPY (SELECT 1) TO STDOUT (FORMAT binary)",
    "COPY wf_readings FROM STDIN (FORMAT binary)",
    "COPY wf_items FROM STDIN (FORMAT csv, HEADER)",
    "SELECT 'unterminated",
    "SELECT \"",
    "/* unterminated comment",
    "SELECT E'\\xff'",
    "SELECT pg_sleep(0.01)",
    "PREPARE p AS SELECT $1",
    "EXECUTE p(1)",
    "DEALLOCATE ALL",
    "DECLARE c CURSOR FOR SELECT 1",
    "FETCH 1 FROM c",
    "LISTEN x",
    "SET statement_timeout = 1",
    "SET client_encoding = 'LATIN1'",
    "RESET ALL",
    "DISCARD ALL",
    "SELECT * FROM generate_series(1, 100000)",
    "SELECT repeat('x', 1000000)",
    "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SAVEPOINT s",
    "ROLLBACK TO s",
];

fn is_negotiation(frame: &Frame) -> bool {
    matches!(frame.code(), Some(SSL_REQUEST | GSS_REQUEST))
}

/// What the session script of a recording looks like: its startup-phase frames, its typed
/// messages without the final Terminate, and whether it had one.
fn split_recording(recording: &Recording) -> (Vec<Frame>, Vec<Frame>) {
    let mut prefix = Vec::new();
    let mut rest = recording.messages.iter();
    for message in rest.by_ref() {
        let frame = Frame {
            bytes: message.clone(),
            typed: false,
        };
        let done = !is_negotiation(&frame);
        prefix.push(frame);
        if done {
            break;
        }
    }
    let mut body: Vec<Frame> = rest
        .map(|m| Frame {
            bytes: m.clone(),
            typed: true,
        })
        .collect();
    if body.last().and_then(Frame::kind) == Some(b'X') {
        body.pop();
    }
    (prefix, body)
}

impl Case {
    /// Case `number` of `seed`: always the same bytes for the same recordings.
    pub fn generate(seed: u64, number: u64, recordings: &[Recording]) -> Case {
        let mut rng = Rng::new(seed ^ number.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        let recording = rng.pick(recordings);
        let (prefix, body) = split_recording(recording);
        let mut frames = prefix;
        if !body.is_empty() {
            let (from, to) = if rng.one_in(3) {
                (0, body.len())
            } else {
                let from = rng.below(body.len());
                (from, (from + rng.range(1, 12)).min(body.len()))
            };
            frames.extend_from_slice(&body[from..to]);
        }
        let mut case = Case {
            seed,
            number,
            recording: recording.name.clone(),
            mutations: Vec::new(),
            frames,
            ending: Ending::Close,
            fragmented: false,
            cancel_after: None,
            cancel_mangle: 0,
        };
        let count = match rng.below(10) {
            0..=4 => 1,
            5..=7 => 2,
            8 => 3,
            _ => 6,
        };
        for _ in 0..count {
            let what = case.mutate(&mut rng);
            case.mutations.push(what);
        }
        let cut = case
            .mutations
            .iter()
            .any(|m| m.starts_with("connection ends"));
        if !cut && rng.below(3) != 0 {
            case.frames.push(Frame::typed(b'X', &[]));
        }
        if !cut && rng.one_in(6) {
            case.ending = Ending::Hang;
        }
        case
    }

    /// Every byte this case sends, in order.
    pub fn bytes(&self) -> Vec<u8> {
        self.frames.iter().flat_map(|f| f.bytes.clone()).collect()
    }

    /// Mutated messages (the count the test reports): one per mutation.
    pub fn mutated_messages(&self) -> usize {
        self.mutations.len()
    }

    /// Everything needed to reproduce the case by hand.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "case {} of seed {} (recording {}, ending {:?}{}{})\n  mutations: {}\n  frames:\n",
            self.number,
            self.seed,
            self.recording,
            self.ending,
            if self.fragmented {
                ", fragmented writes"
            } else {
                ""
            },
            match self.cancel_after {
                Some(k) => format!(
                    ", own CancelRequest (mangle {}) after frame {k}",
                    self.cancel_mangle
                ),
                None => String::new(),
            },
            self.mutations.join("; "),
        );
        for frame in &self.frames {
            let _ = writeln!(out, "    {:<13} {}", frame.label(), to_hex(&frame.bytes));
        }
        out
    }

    fn pick_frame(&self, rng: &mut Rng) -> Option<usize> {
        (!self.frames.is_empty()).then(|| rng.below(self.frames.len()))
    }

    fn frames_of(&self, kind: u8) -> Vec<usize> {
        (0..self.frames.len())
            .filter(|&i| self.frames[i].kind() == Some(kind))
            .collect()
    }

    fn startup_index(&self) -> Option<usize> {
        self.frames
            .iter()
            .position(|f| !f.typed && !is_negotiation(f) && f.code() != Some(CANCEL_REQUEST))
    }

    /// Applies one random mutation and says what it did.
    fn mutate(&mut self, rng: &mut Rng) -> String {
        if self.frames.is_empty() {
            self.frames.push(Frame::typed(b'S', &[]));
        }
        match rng.below(24) {
            0 | 1 => self.flip_bits(rng),
            2 => self.garbage(rng),
            3 | 4 => self.wrong_length(rng),
            5 => self.truncate_frame(rng),
            6 => self.extend_frame(rng),
            7 => self.interesting_number(rng),
            8 => self.strip_terminators(rng),
            9 => self.drop_frame(rng),
            10 => self.duplicate_frame(rng),
            11 => self.swap_frames(rng),
            12 => self.move_frame(rng),
            13 | 14 => self.insert_foreign(rng),
            15 => self.cut_connection(rng),
            16 | 17 => self.mangle_bind(rng),
            18 => self.mangle_parse(rng),
            19 => self.mangle_target(rng),
            20 => self.mangle_startup(rng),
            21 => self.mangle_copy(rng),
            22 => {
                self.fragmented = true;
                "writes fragmented into chunks of 1 to 7 bytes".into()
            }
            _ => {
                let after = rng.range(1, self.frames.len());
                self.cancel_after = Some(after);
                self.cancel_mangle = rng.below(5) as u8;
                format!(
                    "cancel own connection after frame {after} (mangle {})",
                    self.cancel_mangle
                )
            }
        }
    }

    fn flip_bits(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let frame = &mut self.frames[i];
        let mut spots = Vec::new();
        for _ in 0..rng.range(1, 4) {
            let at = rng.below(frame.bytes.len().max(1));
            let bit = rng.below(8);
            if let Some(b) = frame.bytes.get_mut(at) {
                *b ^= 1 << bit;
                spots.push(format!("{at}.{bit}"));
            }
        }
        format!(
            "flip bits {} of frame {i} ({})",
            spots.join(","),
            frame.label()
        )
    }

    fn garbage(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let frame = &mut self.frames[i];
        let len = frame.bytes.len();
        let at = rng.below(len.max(1));
        let n = rng.range(1, 8).min(len - at.min(len));
        let junk = rng.bytes(n);
        frame.bytes[at..at + n].copy_from_slice(&junk);
        format!("overwrite {n} bytes at {at} of frame {i} with garbage")
    }

    fn wrong_length(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let frame = &mut self.frames[i];
        let honest = frame.bytes.len().saturating_sub(usize::from(frame.typed)) as u32;
        let value = match rng.below(4) {
            0 => honest.wrapping_add(rng.range(1, 64) as u32),
            1 => honest.saturating_sub(rng.range(1, 8) as u32),
            _ => *rng.pick(INTERESTING_LENGTHS),
        };
        frame.set_length_field(value);
        format!(
            "length of frame {i} ({}) says {value:#x} instead of {honest:#x}",
            frame.label()
        )
    }

    fn truncate_frame(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let frame = &mut self.frames[i];
        let body_len = frame.body().len();
        let keep = rng.below(body_len.max(1));
        let honest = rng.one_in(2);
        let header = frame.header_len().min(frame.bytes.len());
        frame.bytes.truncate(header + keep);
        if honest {
            frame.fix_length();
        }
        format!(
            "frame {i} ({}) cut to {keep} of {body_len} body bytes, length {}",
            frame.label(),
            if honest { "fixed" } else { "left as it was" }
        )
    }

    fn extend_frame(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let n = if rng.one_in(8) {
            rng.range(1000, 70_000)
        } else {
            rng.range(1, 32)
        };
        let junk = rng.bytes(n);
        let honest = rng.one_in(2);
        let frame = &mut self.frames[i];
        frame.bytes.extend_from_slice(&junk);
        if honest {
            frame.fix_length();
        }
        format!(
            "{n} garbage bytes appended to frame {i} ({}), length {}",
            frame.label(),
            if honest { "fixed" } else { "left as it was" }
        )
    }

    fn interesting_number(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let frame = &mut self.frames[i];
        let header = frame.header_len();
        if frame.bytes.len() < header + 2 {
            return self.insert_foreign(rng);
        }
        let at = rng.range(header, frame.bytes.len() - 2);
        if rng.one_in(2) || frame.bytes.len() < at + 4 {
            let v = *rng.pick(INTERESTING_I16);
            frame.bytes[at..at + 2].copy_from_slice(&v.to_be_bytes());
            format!(
                "i16 {v} written at byte {at} of frame {i} ({})",
                frame.label()
            )
        } else {
            let v = *rng.pick(INTERESTING_I32);
            frame.bytes[at..at + 4].copy_from_slice(&v.to_be_bytes());
            format!(
                "i32 {v} written at byte {at} of frame {i} ({})",
                frame.label()
            )
        }
    }

    fn strip_terminators(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let frame = &mut self.frames[i];
        let mut body = frame.body().to_vec();
        let before = body.len();
        while body.last() == Some(&0) {
            body.pop();
        }
        frame.set_body(&body);
        format!(
            "trailing NULs stripped from frame {i} ({}), {} bytes, length fixed",
            frame.label(),
            before - body.len()
        )
    }

    fn drop_frame(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let gone = self.frames.remove(i);
        format!("frame {i} ({}) dropped", gone.label())
    }

    fn duplicate_frame(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let times = if rng.one_in(10) { 200 } else { rng.range(1, 3) };
        let copy = self.frames[i].clone();
        for _ in 0..times {
            self.frames.insert(i, copy.clone());
        }
        format!("frame {i} ({}) sent {} times", copy.label(), times + 1)
    }

    fn swap_frames(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let j = self.pick_frame(rng).expect("frames");
        self.frames.swap(i, j);
        format!("frames {i} and {j} swapped")
    }

    fn move_frame(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        let frame = self.frames.remove(i);
        let j = rng.below(self.frames.len() + 1);
        let label = frame.label();
        self.frames.insert(j, frame);
        format!("frame {i} ({label}) moved to {j}")
    }

    fn insert_foreign(&mut self, rng: &mut Rng) -> String {
        let (frame, what) = foreign_message(rng);
        let at = rng.below(self.frames.len() + 1);
        self.frames.insert(at, frame);
        format!("{what} inserted at {at}")
    }

    fn cut_connection(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_frame(rng).expect("frames");
        self.frames.truncate(i + 1);
        let frame = &mut self.frames[i];
        let keep = rng.below(frame.bytes.len().max(1));
        frame.bytes.truncate(keep);
        let label = frame.label();
        self.ending = if rng.one_in(3) {
            Ending::Hang
        } else {
            Ending::Close
        };
        format!(
            "connection ends after {keep} bytes of frame {i} ({label}), then {:?}",
            self.ending
        )
    }

    fn mangle_bind(&mut self, rng: &mut Rng) -> String {
        let binds = self.frames_of(b'B');
        let Some(&i) = (!binds.is_empty()).then(|| rng.pick(&binds)) else {
            return self.insert_foreign(rng);
        };
        let Some(mut bind) = Bind::parse(self.frames[i].body()) else {
            return self.flip_bits(rng);
        };
        let what;
        let body = match rng.below(11) {
            0 => {
                bind.params.pop();
                what = "one parameter fewer";
                bind.encode_honest()
            }
            1 => {
                bind.params.push(Some(b"1".to_vec()));
                bind.params.push(None);
                what = "two parameters more";
                bind.encode_honest()
            }
            2 => {
                let flipped = if bind.formats.first() == Some(&1) {
                    0
                } else {
                    1
                };
                bind.formats = vec![flipped];
                what = "every parameter's format flipped (text as binary or binary as text)";
                bind.encode_honest()
            }
            3 => {
                bind.formats = vec![*rng.pick(&[2, -1, 7, i16::MIN])];
                what = "an invalid parameter format code";
                bind.encode_honest()
            }
            4 => {
                bind.formats = vec![1; bind.params.len() + 3];
                what = "more format codes than parameters";
                bind.encode_honest()
            }
            5 => {
                let count = *rng.pick(&[0x7fff, -1, i16::MIN, 1000]);
                what = "an absurd parameter count";
                bind.encode(bind.formats.len() as i16, count, bind.results.len() as i16)
            }
            6 => {
                let count = *rng.pick(&[0x7fff, -1, 500]);
                what = "an absurd format code count";
                bind.encode(count, bind.params.len() as i16, bind.results.len() as i16)
            }
            7 => {
                bind.results = if rng.one_in(2) {
                    vec![*rng.pick(&[2, -1, 9])]
                } else {
                    vec![1; 300]
                };
                what = "invalid or too many result format codes";
                bind.encode_honest()
            }
            8 => {
                bind.statement = b"no_such_statement".to_vec();
                what = "an unknown statement name";
                bind.encode_honest()
            }
            9 => {
                for p in bind.params.iter_mut() {
                    *p = Some(rng.junk(0, 9));
                }
                what = "every parameter value replaced with random bytes";
                bind.encode_honest()
            }
            _ => {
                // A value whose length field lies.
                let mut body = bind.encode_honest();
                let mut at = 0;
                take_cstr(&body, &mut at);
                take_cstr(&body, &mut at);
                at += 2 + 2 * bind.formats.len() + 2;
                if at + 4 <= body.len() {
                    let v = *rng.pick(&[-2i32, 0x7fff_ffff, 1000, i32::MIN]);
                    body[at..at + 4].copy_from_slice(&v.to_be_bytes());
                }
                what = "the first parameter's length field lies";
                body
            }
        };
        self.frames[i].set_body(&body);
        format!("Bind frame {i}: {what}")
    }

    fn mangle_parse(&mut self, rng: &mut Rng) -> String {
        let parses = self.frames_of(b'P');
        let Some(&i) = (!parses.is_empty()).then(|| rng.pick(&parses)) else {
            let sql = *rng.pick(EDGE_SQL);
            let at = rng.below(self.frames.len() + 1);
            let frame = if rng.one_in(2) {
                query_frame(sql)
            } else {
                let mut body = Vec::new();
                cstr(&mut body, b"");
                cstr(&mut body, sql.as_bytes());
                body.extend_from_slice(&0i16.to_be_bytes());
                Frame::typed(b'P', &body)
            };
            let label = frame.label();
            self.frames.insert(at, frame);
            return format!("{label} of {sql:?} inserted at {at}");
        };
        let body = self.frames[i].body().to_vec();
        let mut at = 0;
        let name = take_cstr(&body, &mut at).unwrap_or_default().to_vec();
        let sql = take_cstr(&body, &mut at).unwrap_or_default().to_vec();
        let count = take_i16(&body, &mut at).unwrap_or(0).max(0) as usize;
        let mut oids: Vec<u32> = (0..count)
            .filter_map(|_| take_i32(&body, &mut at).map(|v| v as u32))
            .collect();
        let mut count_field = oids.len() as i16;
        let mut new_name = name.clone();
        let mut new_sql = sql.clone();
        let what = match rng.below(6) {
            0 => {
                count_field = *rng.pick(&[0x7fff, -1, i16::MIN, 4000]);
                format!("type count says {count_field}")
            }
            1 => {
                let oid = *rng.pick(&[0u32, 16, 17, 23, 25, 114, 705, 2277, 999_999, u32::MAX]);
                oids = vec![oid; oids.len().max(1) + rng.below(3)];
                count_field = oids.len() as i16;
                format!("{} parameter types, all oid {oid}", oids.len())
            }
            2 => {
                new_sql = rng.pick(EDGE_SQL).as_bytes().to_vec();
                format!("query replaced by {:?}", String::from_utf8_lossy(&new_sql))
            }
            3 => {
                new_name = b"_pg3_0".to_vec();
                "statement named as one that may exist (_pg3_0)".into()
            }
            4 => {
                new_sql.extend_from_slice(&rng.junk(1, 6));
                "random bytes after the query text".into()
            }
            _ => {
                new_name = vec![b'n'; rng.range(64, 5000)];
                format!("a statement name of {} bytes", new_name.len())
            }
        };
        let mut out = Vec::new();
        cstr(&mut out, &new_name);
        cstr(&mut out, &new_sql);
        out.extend_from_slice(&count_field.to_be_bytes());
        for oid in oids {
            out.extend_from_slice(&oid.to_be_bytes());
        }
        self.frames[i].set_body(&out);
        format!("Parse frame {i}: {what}")
    }

    fn mangle_target(&mut self, rng: &mut Rng) -> String {
        let targets: Vec<usize> = (0..self.frames.len())
            .filter(|&i| matches!(self.frames[i].kind(), Some(b'D' | b'C' | b'E')))
            .collect();
        let Some(&i) = (!targets.is_empty()).then(|| rng.pick(&targets)) else {
            return self.insert_foreign(rng);
        };
        let kind = self.frames[i].kind().expect("typed");
        let body = self.frames[i].body().to_vec();
        let mut out = Vec::new();
        let what = if kind == b'E' {
            let mut at = 0;
            let portal = take_cstr(&body, &mut at).unwrap_or_default().to_vec();
            let max_rows = *rng.pick(&[-1i32, 1, 2, i32::MIN, 0x7fff_ffff]);
            let portal = if rng.one_in(3) {
                b"nope".to_vec()
            } else {
                portal
            };
            cstr(&mut out, &portal);
            out.extend_from_slice(&max_rows.to_be_bytes());
            format!(
                "Execute of {:?} with max_rows {max_rows}",
                String::from_utf8_lossy(&portal)
            )
        } else {
            let target = *rng.pick(&[b'S', b'P', b'X', 0, 0xff]);
            let name: Vec<u8> = match rng.below(3) {
                0 => b"nope".to_vec(),
                1 => body
                    .get(1..)
                    .unwrap_or_default()
                    .split(|&b| b == 0)
                    .next()
                    .unwrap_or_default()
                    .to_vec(),
                _ => vec![b'x'; 3000],
            };
            out.push(target);
            cstr(&mut out, &name);
            format!(
                "{} with target {:?} and a name of {} bytes",
                kind as char,
                target as char,
                name.len()
            )
        };
        self.frames[i].set_body(&out);
        format!("frame {i}: {what}")
    }

    fn mangle_startup(&mut self, rng: &mut Rng) -> String {
        let Some(i) = self.startup_index() else {
            let frame = startup_frame(
                &[(b"user", b"tester"), (b"database", b"driftdb")],
                PROTOCOL_3_0,
            );
            self.frames.insert(0, frame);
            return "a startup packet put first".into();
        };
        let tester: &[u8] = b"tester";
        let driftdb: &[u8] = b"driftdb";
        let (frame, what) = match rng.below(12) {
            0 => {
                let version = *rng.pick(&[
                    0x0002_0000u32,
                    0x0003_0001,
                    0x0003_0002,
                    0x0003_ffff,
                    0x0004_0000,
                    0,
                    u32::MAX,
                    0x1234_5678,
                    CANCEL_REQUEST,
                    SSL_REQUEST,
                    GSS_REQUEST,
                ]);
                let mut frame = self.frames[i].clone();
                if frame.bytes.len() >= 8 {
                    frame.bytes[4..8].copy_from_slice(&version.to_be_bytes());
                }
                (frame, format!("startup protocol version {version:#x}"))
            }
            1 => {
                let mut frame = self.frames[i].clone();
                let mut body = frame.body().to_vec();
                while body.last() == Some(&0) {
                    body.pop();
                }
                frame.set_body(&body);
                (
                    frame,
                    "unterminated startup packet (no final NULs), length fixed".into(),
                )
            }
            2 => (
                startup_frame(&[(b"database", driftdb)], PROTOCOL_3_0),
                "startup without a user".into(),
            ),
            3 => (
                startup_frame(
                    &[(b"user", tester), (b"database", b"nosuchdb")],
                    PROTOCOL_3_0,
                ),
                "startup for an unknown database".into(),
            ),
            4 => (
                startup_frame(&[(b"user", b""), (b"database", b"")], PROTOCOL_3_0),
                "startup with empty user and database".into(),
            ),
            5 => {
                let names: Vec<Vec<u8>> = (0..rng.range(100, 700))
                    .map(|n| format!("x{n}").into_bytes())
                    .collect();
                let mut params: Vec<(&[u8], &[u8])> =
                    vec![(b"user", tester), (b"database", driftdb)];
                params.extend(names.iter().map(|n| (n.as_slice(), b"value".as_slice())));
                (
                    startup_frame(&params, PROTOCOL_3_0),
                    format!("startup with {} parameters", params.len()),
                )
            }
            6 => {
                let (key, value): (&[u8], &[u8]) = *rng.pick(&[
                    (
                        b"options".as_slice(),
                        b"-c statement_timeout=1 -c search_path=evil".as_slice(),
                    ),
                    (b"replication", b"database"),
                    (b"client_encoding", b"LATIN1"),
                    (b"client_encoding", b"nonsense"),
                    (b"DateStyle", b"Nonsense, XYZ"),
                    (b"TimeZone", b"Mars/Olympus"),
                    (b"application_name", &[0xff, 0xfe, 0x80]),
                    (b"_pq_.something", b"on"),
                ]);
                (
                    startup_frame(
                        &[(b"user", tester), (b"database", driftdb), (key, value)],
                        PROTOCOL_3_0,
                    ),
                    format!(
                        "startup with {}={:?}",
                        String::from_utf8_lossy(key),
                        String::from_utf8_lossy(value)
                    ),
                )
            }
            7 => {
                let mut body = PROTOCOL_3_0.to_be_bytes().to_vec();
                cstr(&mut body, b"user");
                cstr(&mut body, b"tester");
                cstr(&mut body, b"database");
                body.push(0);
                (
                    Frame::untyped(&body),
                    "startup with a key and no value".into(),
                )
            }
            8 => (
                startup_frame(
                    &[
                        (&[0xc3, 0x28], &[0xff]),
                        (b"user", tester),
                        (b"database", driftdb),
                    ],
                    PROTOCOL_3_0,
                ),
                "startup with invalid UTF-8 names and values".into(),
            ),
            9 => {
                let frame = self.frames[i].clone();
                let at = rng.range(i + 1, self.frames.len());
                self.frames.insert(at, frame);
                return format!("the startup packet sent again at {at}");
            }
            10 => {
                let request =
                    Frame::untyped(&(*rng.pick(&[SSL_REQUEST, GSS_REQUEST])).to_be_bytes());
                let times = rng.range(1, 4);
                for _ in 0..times {
                    self.frames.insert(i, request.clone());
                }
                return format!("{times} {} before startup", request.label());
            }
            _ => {
                let key_len = *rng.pick(&[0usize, 4, 4, 32, 256]);
                let frame = cancel_frame(rng.next_u64() as i32, &rng.bytes(key_len));
                (
                    frame,
                    "a CancelRequest with a random key instead of startup".into(),
                )
            }
        };
        self.frames[i] = frame;
        what
    }

    fn mangle_copy(&mut self, rng: &mut Rng) -> String {
        let data = self.frames_of(b'd');
        let Some(&i) = (!data.is_empty()).then(|| rng.pick(&data)) else {
            let at = rng.below(self.frames.len() + 1);
            let (frame, what) = match rng.below(3) {
                0 => (Frame::typed(b'd', &rng.junk(0, 40)), "CopyData"),
                1 => (Frame::typed(b'c', &[]), "CopyDone"),
                _ => (Frame::typed(b'f', b"no thanks\0"), "CopyFail"),
            };
            self.frames.insert(at, frame);
            return format!("{what} outside COPY inserted at {at}");
        };
        let rows: &[&[u8]] = &[
            b"1\t2\t3\t4\t5\t6\t7\t8\n",
            b"\\\n",
            b"\\x\n",
            b"1\tabc\\",
            b"\xff\xfe\t\xc3\n",
            b"\\N\t\\N\t\\N\n",
            b"999999999999999999999999\tx\n",
            b"\n\n\n",
            b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0\xff\xff",
            b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0\x00\x05\x7f\xff\xff\xff",
        ];
        match rng.below(4) {
            0 => {
                let row = *rng.pick(rows);
                self.frames[i].set_body(row);
                format!(
                    "CopyData frame {i} replaced by {:?}",
                    String::from_utf8_lossy(row)
                )
            }
            1 => {
                let n = rng.range(1, 100) * 1000;
                let mut body = Vec::with_capacity(n);
                while body.len() < n {
                    body.extend_from_slice(b"7\tlong line without an end ");
                }
                self.frames[i].set_body(&body);
                format!("CopyData frame {i} is {n} bytes of one unfinished row")
            }
            2 => {
                self.frames
                    .insert(i + 1, Frame::typed(b'f', b"changed my mind\0"));
                format!("CopyFail after CopyData frame {i}")
            }
            _ => {
                let junk = rng.junk(1, 64);
                self.frames[i].set_body(&junk);
                format!("CopyData frame {i} replaced by {} random bytes", junk.len())
            }
        }
    }
}

/// A message out of place in any session.
fn foreign_message(rng: &mut Rng) -> (Frame, String) {
    let named = |target: u8, name: &[u8]| {
        let mut body = vec![target];
        cstr(&mut body, name);
        body
    };
    let (frame, what) = match rng.below(20) {
        0 => (
            Frame::typed(b'd', &rng.junk(0, 64)),
            "CopyData outside COPY",
        ),
        1 => (Frame::typed(b'c', &[]), "CopyDone outside COPY"),
        2 => (Frame::typed(b'f', b"boom\0"), "CopyFail outside COPY"),
        3 => {
            let mut body = b"nope\0".to_vec();
            body.extend_from_slice(&rng.pick(&[0i32, 1, -1]).to_be_bytes());
            (Frame::typed(b'E', &body), "Execute of an unknown portal")
        }
        4 => (
            Frame::typed(b'D', &named(*rng.pick(b"SP"), b"nope")),
            "Describe of an unknown name",
        ),
        5 => (
            Frame::typed(b'C', &named(*rng.pick(b"SPZ"), b"nope")),
            "Close of an unknown name",
        ),
        6 => (
            Frame::typed(b'B', b"\0nope\0\0\0\0\x01\0\0\0\x011\0\0"),
            "Bind to an unknown statement",
        ),
        7 => (
            Frame::typed(b'P', b"\0SELECT $1\0\xff\xff"),
            "Parse claiming 65535 parameter types",
        ),
        8 => (Frame::typed(b'S', &[]), "Sync"),
        9 => (Frame::typed(b'H', &[]), "Flush"),
        10 => (Frame::typed(b'Q', b"SELECT 1"), "Query without its NUL"),
        11 => (query_frame(rng.pick::<&str>(EDGE_SQL)), "Query of edge SQL"),
        12 => (
            Frame::typed(b'p', b"secret\0"),
            "PasswordMessage nobody asked for",
        ),
        13 => (
            Frame::typed(b'F', b"\0\0\x04\xd2\0\0\0\0\0\0"),
            "FunctionCall (fastpath)",
        ),
        14 => {
            let kind = *rng.pick(&[0u8, 0xff, b'Z', b'A', b'z', b'1', b'V', b'W', b'K']);
            return (
                Frame::typed(kind, &rng.junk(0, 16)),
                format!("a message of unknown type {kind:#04x}"),
            );
        }
        15 => (
            startup_frame(
                &[(b"user", b"tester"), (b"database", b"driftdb")],
                PROTOCOL_3_0,
            ),
            "a second startup packet",
        ),
        16 => (
            Frame::untyped(&SSL_REQUEST.to_be_bytes()),
            "SSLRequest mid-session",
        ),
        17 => (
            cancel_frame(42, &[0, 0, 0, 42]),
            "CancelRequest mid-session",
        ),
        18 => (Frame::typed(b'X', &[]), "Terminate mid-session"),
        _ => (
            Frame::typed(b'E', b"\0\0\0\0\0"),
            "Execute of the unnamed portal",
        ),
    };
    (frame, what.to_string())
}

// ---------------------------------------------------------------------------------------------
// Playing a case

/// Time limits for one case.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Connecting, and each write.
    pub io: Duration,
    /// How long a Hang case waits in silence before it gives up.
    pub quiet: Duration,
    /// How long a Close case waits for the server to close after the client did.
    pub close: Duration,
    /// The whole case at most.
    pub case: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            io: Duration::from_secs(3),
            quiet: Duration::from_millis(250),
            close: Duration::from_secs(5),
            case: Duration::from_secs(15),
        }
    }
}

/// What the server did with one case.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub connect_error: Option<String>,
    pub received: usize,
    /// The server closed (end of file or reset).
    pub closed_by_server: bool,
    /// A write failed (the server had closed).
    pub write_failed: bool,
    /// The client closed its side and the server kept the connection open past `close`.
    pub kept_open: bool,
    /// The case ran out of `case` time.
    pub timed_out: bool,
    /// SQLSTATEs of the ErrorResponses received.
    pub sqlstates: Vec<String>,
}

/// The backend messages in `bytes`: (type, body). Single-byte SSL/GSS answers are skipped.
fn backend_messages(bytes: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let kind = bytes[at];
        let Some(len) = bytes.get(at + 1..at + 5) else {
            break;
        };
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        if !(4..=1 << 24).contains(&len) {
            at += 1; // an 'N'/'S'/'G' answer to SSLRequest or GSSENCRequest
            continue;
        }
        let Some(body) = bytes.get(at + 5..at + 1 + len) else {
            break;
        };
        out.push((kind, body));
        at += 1 + len;
    }
    out
}

fn sqlstate(body: &[u8]) -> Option<String> {
    body.split(|&b| b == 0)
        .find_map(|field| field.strip_prefix(b"C"))
        .map(|code| String::from_utf8_lossy(code).into_owned())
}

fn backend_key(bytes: &[u8]) -> Option<(i32, Vec<u8>)> {
    backend_messages(bytes)
        .into_iter()
        .find_map(|(kind, body)| {
            (kind == b'K' && body.len() >= 8).then(|| {
                (
                    i32::from_be_bytes(body[..4].try_into().expect("4 bytes")),
                    body[4..].to_vec(),
                )
            })
        })
}

async fn send_cancel(addr: SocketAddr, pid: i32, secret: Vec<u8>, mangle: u8, io: Duration) {
    let frame = match mangle {
        0 => cancel_frame(pid, &secret),
        1 => cancel_frame(pid, &[0xde, 0xad, 0xbe, 0xef]),
        2 => cancel_frame(pid, &[]),
        3 => {
            let mut frame = cancel_frame(pid, &secret);
            frame.set_length_field(0x7fff_ffff);
            frame
        }
        _ => {
            let mut long = secret.clone();
            long.resize(300, 7);
            cancel_frame(pid, &long)
        }
    };
    if let Ok(Ok(mut stream)) = timeout(io, TcpStream::connect(addr)).await {
        let _ = timeout(io, stream.write_all(&frame.bytes)).await;
        let mut sink = [0u8; 64];
        let _ = timeout(io, stream.read(&mut sink)).await;
    }
}

/// Sends `case` over a fresh connection and reads whatever comes back.
pub async fn play(addr: SocketAddr, case: &Case, limits: Timeouts) -> Outcome {
    let mut outcome = Outcome::default();
    let stream = match timeout(limits.io, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            outcome.connect_error = Some(e.to_string());
            return outcome;
        }
        Err(_) => {
            outcome.connect_error = Some("connect timed out".into());
            return outcome;
        }
    };
    let _ = stream.set_nodelay(true);
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let received = Arc::new(Mutex::new(Vec::<u8>::new()));
    let (done_tx, done_rx) = tokio::sync::watch::channel(None::<Instant>);
    let ending = case.ending;
    let read_task = {
        let received = received.clone();
        tokio::spawn(async move {
            let mut result = (false, false, false); // closed, kept_open, timed_out
            let mut chunk = vec![0u8; 64 * 1024];
            let mut last = Instant::now();
            loop {
                match timeout(Duration::from_millis(25), reader.read(&mut chunk)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => {
                        result.0 = true;
                        break;
                    }
                    Ok(Ok(n)) => {
                        let mut buf = received.lock().expect("received");
                        if buf.len() < 4 << 20 {
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        last = Instant::now();
                    }
                    Err(_) => {}
                }
                let done = *done_rx.borrow();
                if let Some(done_at) = done {
                    match ending {
                        Ending::Hang if last.max(done_at).elapsed() >= limits.quiet => break,
                        Ending::Close if done_at.elapsed() >= limits.close => {
                            result.1 = true;
                            break;
                        }
                        _ => {}
                    }
                }
                if started.elapsed() >= limits.case {
                    result.2 = true;
                    break;
                }
            }
            result
        })
    };
    let mut cancel_task = None;
    let mut rng = Rng::new(case.seed ^ case.number);
    'frames: for (k, frame) in case.frames.iter().enumerate() {
        if case.cancel_after == Some(k) {
            let key = received.lock().expect("received").clone();
            if let Some((pid, secret)) = backend_key(&key) {
                cancel_task = Some(tokio::spawn(send_cancel(
                    addr,
                    pid,
                    secret,
                    case.cancel_mangle,
                    limits.io,
                )));
            }
        }
        let mut pieces = Vec::new();
        if case.fragmented {
            let mut at = 0;
            while at < frame.bytes.len() {
                let n = rng.range(1, 7).min(frame.bytes.len() - at);
                pieces.push(&frame.bytes[at..at + n]);
                at += n;
            }
        } else {
            pieces.push(&frame.bytes[..]);
        }
        for piece in pieces {
            let sent = timeout(limits.io, async {
                writer.write_all(piece).await?;
                writer.flush().await
            })
            .await;
            if !matches!(sent, Ok(Ok(()))) {
                outcome.write_failed = true;
                break 'frames;
            }
        }
        if started.elapsed() >= limits.case {
            break;
        }
    }
    if ending == Ending::Close {
        let _ = writer.shutdown().await;
    }
    let _ = done_tx.send(Some(Instant::now()));
    let (closed, kept_open, timed_out) = read_task.await.unwrap_or((false, false, true));
    drop(writer);
    if let Some(task) = cancel_task {
        let _ = task.await;
    }
    let bytes = received.lock().expect("received").clone();
    outcome.received = bytes.len();
    outcome.closed_by_server = closed;
    outcome.kept_open = kept_open;
    outcome.timed_out = timed_out;
    outcome.sqlstates = backend_messages(&bytes)
        .into_iter()
        .filter(|(kind, _)| *kind == b'E')
        .filter_map(|(_, body)| sqlstate(body))
        .collect();
    outcome
}

/// Sessions this fuzzer found that stopped the server or panicked one of its connections, cut
/// down to the bytes that matter: each is sent after a good startup (as `tester` to `driftdb`).
/// PostgreSQL answers each with an error or a result and goes on.
pub const FOUND: &[(&str, &str)] = &[
    (
        "Execute of SELECT 1 with max_rows 2147483647 (pgwire reserves room for max_rows rows: \
         80 GiB, the allocation fails and the process aborts)",
        "50000000100053454c4543542031000000420000000c0000000000000000\
         4500000009007fffffff5300000004",
    ),
    (
        "Execute whose length says 9 but carries 1 byte: the Sync after it is read as max_rows \
         0x53000000 (55 GiB reserved, abort)",
        "50000000100053454c4543542031000000420000000c0000000000000000\
         450000000900\
         5300000004",
    ),
    (
        "Execute with max_rows -1 (capacity overflow)",
        "50000000100053454c4543542031000000420000000c0000000000000000\
         450000000900ffffffff5300000004",
    ),
    ("Execute with no body at all", "4500000004"),
    (
        "Bind claiming a parameter of 0x7fffffff bytes",
        "42000000100000000000017fffffff0000",
    ),
    ("CopyData whose length says 1", "640000000178787878"),
    (
        "Bind with 2 parameter format codes for 3 parameters",
        "500000002a0053454c4543542024313a3a696e74202b2024323a3a696e74202b2024333a3a696e74000000\
         420000001f00000002000000000003000000013100000001310000000131000045000000090000000000\
         5300000004",
    ),
];

/// A case that sends a good startup and then `hex` as it is.
pub fn found_case(number: u64, description: &str, hex: &str) -> Case {
    let bytes = from_hex(hex).expect("FOUND holds hex");
    Case {
        seed: 0,
        number,
        recording: "(none)".into(),
        mutations: vec![description.to_string()],
        frames: vec![
            Frame {
                bytes: good_startup(),
                typed: false,
            },
            Frame { bytes, typed: true },
        ],
        ending: Ending::Close,
        fragmented: false,
        cancel_after: None,
        cancel_mangle: 0,
    }
}

/// Plays every recording once as recorded, so the tables the sessions use exist and have rows
/// before mutated sessions arrive.
pub async fn warm_up(addr: SocketAddr, recordings: &[Recording]) {
    for (number, recording) in recordings.iter().enumerate() {
        let frames: Vec<Frame> = {
            let (mut frames, body) = split_recording(recording);
            frames.extend(body);
            frames.push(Frame::typed(b'X', &[]));
            frames
        };
        let case = Case {
            seed: 0,
            number: number as u64,
            recording: recording.name.clone(),
            mutations: Vec::new(),
            frames,
            ending: Ending::Close,
            fragmented: false,
            cancel_after: None,
            cancel_mangle: 0,
        };
        play(addr, &case, Timeouts::default()).await;
    }
}

/// Whether a fresh connection (user `tester`, database `driftdb`) gets `1` for `SELECT 1`
/// within `limit`.
pub async fn answers_select_1(addr: SocketAddr, limit: Duration) -> Result<(), String> {
    let attempt = async {
        let (client, connection) = tokio_postgres::Config::new()
            .host(addr.ip().to_string())
            .port(addr.port())
            .user("tester")
            .dbname("driftdb")
            .connect_timeout(limit)
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| match e.as_db_error() {
                Some(db) => format!("connect: {} {}", db.code().code(), db.message()),
                None => format!("connect: {e}"),
            })?;
        let connection = tokio::spawn(connection);
        let messages = client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| format!("SELECT 1: {e}"))?;
        let one = messages.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        });
        drop(client);
        let _ = connection.await;
        match one.as_deref() {
            Some("1") => Ok(()),
            other => Err(format!("SELECT 1 answered {other:?}")),
        }
    };
    timeout(limit, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer to SELECT 1 within {limit:?}")))
}

// ---------------------------------------------------------------------------------------------
// The server under test

/// A `driftdb-server` process whose stderr is watched for panics and whose memory is read
/// from /proc.
pub struct FuzzServer {
    child: Mutex<Child>,
    pid: u32,
    addr: SocketAddr,
    stderr: Arc<Mutex<StderrLog>>,
}

#[derive(Default)]
struct StderrLog {
    tail: Vec<String>,
    panics: Vec<String>,
}

impl FuzzServer {
    /// Starts `driftdb-server` over `data_dir` on a free loopback port.
    pub fn start(data_dir: &Path) -> FuzzServer {
        let mut child = Command::new(crate::server_binary())
            .arg("--data-path")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("driftdb-server starts");
        let stderr = Arc::new(Mutex::new(StderrLog::default()));
        let err = BufReader::new(child.stderr.take().expect("stderr is piped"));
        {
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                for line in err.lines() {
                    let Ok(line) = line else { break };
                    if is_backtrace(&line) {
                        continue;
                    }
                    let mut log = stderr.lock().expect("stderr log");
                    let after_panic = log.tail.last().is_some_and(|l| l.contains("panicked at"));
                    if line.contains("panicked at") || line.contains("fatal runtime error") {
                        log.panics.push(line.clone());
                    } else if after_panic && let Some(last) = log.panics.last_mut() {
                        // The panic message is the line after "panicked at".
                        last.push_str(" | ");
                        last.push_str(&line);
                    }
                    log.tail.push(line);
                    if log.tail.len() > 200 {
                        log.tail.remove(0);
                    }
                }
            });
        }
        let addr = crate::listening_address(&mut child);
        FuzzServer {
            pid: child.id(),
            child: Mutex::new(child),
            addr,
            stderr,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory in KiB, if the process is there.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid)
    }

    /// Panic lines seen on stderr so far (each with its message).
    pub fn panics(&self) -> Vec<String> {
        self.stderr.lock().expect("stderr log").panics.clone()
    }

    /// The last lines of stderr.
    pub fn stderr_tail(&self, lines: usize) -> Vec<String> {
        let log = self.stderr.lock().expect("stderr log");
        log.tail[log.tail.len().saturating_sub(lines)..].to_vec()
    }

    /// `Some(status)` once the process has exited.
    pub fn exit_status(&self) -> Option<String> {
        let mut child = self.child.lock().expect("child");
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }
}

impl Drop for FuzzServer {
    fn drop(&mut self) {
        let mut child = self.child.lock().expect("child");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Whether a stderr line belongs to a backtrace (frames, their locations, the notes around them).
fn is_backtrace(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("at ")
        || t.starts_with("stack backtrace:")
        || t.starts_with("note: Some details are omitted")
        || t.split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

// ---------------------------------------------------------------------------------------------
// A fuzzing run

/// What to run.
#[derive(Clone, Debug)]
pub struct FuzzConfig {
    pub seed: u64,
    /// Connections sending cases at the same time.
    pub workers: usize,
    /// Case numbers `first..first + cases` (or until `deadline`).
    pub first: u64,
    pub cases: u64,
    pub deadline: Option<Instant>,
    pub timeouts: Timeouts,
    /// How long the `SELECT 1` check may take.
    pub check: Duration,
    /// Resident memory above this is runaway memory (checked when the pid is known).
    pub memory_limit_kib: u64,
}

impl FuzzConfig {
    pub fn new(seed: u64, cases: u64) -> FuzzConfig {
        FuzzConfig {
            seed,
            workers: 4,
            first: 0,
            cases,
            deadline: None,
            timeouts: Timeouts::default(),
            check: Duration::from_secs(20),
            memory_limit_kib: 4 << 20,
        }
    }
}

/// The server stopped answering (or ran away with memory).
#[derive(Clone, Debug)]
pub struct Failure {
    pub what: String,
    /// The cases in flight when it was noticed, the culprit among them.
    pub suspects: Vec<Case>,
    pub exit_status: Option<String>,
    pub stderr_tail: Vec<String>,
}

impl Failure {
    /// A short name for the kind of failure, from the server's last words.
    pub fn signature(&self) -> String {
        let last_words = [
            "memory allocation of",
            "stack overflow",
            "fatal runtime error",
            "panicked at",
        ];
        for words in last_words {
            if let Some(line) = self.stderr_tail.iter().rev().find(|l| l.contains(words)) {
                return line.clone();
            }
        }
        match &self.exit_status {
            Some(status) => format!("exited: {status}"),
            None => format!("alive but not answering: {}", self.what),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "the server stopped answering: {}", self.what)?;
        if let Some(status) = &self.exit_status {
            writeln!(f, "server process exited: {status}")?;
        }
        for line in &self.stderr_tail {
            writeln!(f, "  stderr: {line}")?;
        }
        writeln!(f, "cases in flight:")?;
        for case in &self.suspects {
            write!(f, "{}", case.describe())?;
        }
        Ok(())
    }
}

/// A panic line the server printed, and the cases in flight when it was seen.
#[derive(Clone, Debug)]
pub struct PanicSeen {
    pub line: String,
    pub suspects: Vec<u64>,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct FuzzReport {
    pub cases: u64,
    pub frames: u64,
    pub mutated_messages: u64,
    pub bytes: u64,
    pub closed_by_server: u64,
    pub answered: u64,
    pub sqlstates: BTreeMap<String, u64>,
    /// Cases after which the server kept the connection open although the client had closed.
    pub kept_open: Vec<u64>,
    pub timed_out: Vec<u64>,
    pub panics: Vec<PanicSeen>,
    pub peak_rss_kib: u64,
    pub failure: Option<Failure>,
}

impl FuzzReport {
    pub fn summary(&self) -> String {
        let codes: Vec<String> = self
            .sqlstates
            .iter()
            .map(|(c, n)| format!("{c}×{n}"))
            .collect();
        format!(
            "{} cases, {} frames ({} mutated messages, {} bytes); server closed {} connections, \
             answered {}; kept open after client EOF: {}; timed out: {}; panics: {}; peak RSS {} MiB; \
             errors: {}",
            self.cases,
            self.frames,
            self.mutated_messages,
            self.bytes,
            self.closed_by_server,
            self.answered,
            self.kept_open.len(),
            self.timed_out.len(),
            self.panics.len(),
            self.peak_rss_kib / 1024,
            codes.join(" ")
        )
    }

    fn absorb(&mut self, case: &Case, outcome: &Outcome) {
        self.cases += 1;
        self.frames += case.frames.len() as u64;
        self.mutated_messages += case.mutated_messages() as u64;
        self.bytes += case
            .frames
            .iter()
            .map(|f| f.bytes.len() as u64)
            .sum::<u64>();
        self.closed_by_server += u64::from(outcome.closed_by_server);
        self.answered += u64::from(outcome.received > 0);
        for code in &outcome.sqlstates {
            *self.sqlstates.entry(code.clone()).or_default() += 1;
        }
        if outcome.kept_open && self.kept_open.len() < 50 {
            self.kept_open.push(case.number);
        }
        if outcome.timed_out && self.timed_out.len() < 50 {
            self.timed_out.push(case.number);
        }
    }
}

/// Runs cases on `workers` connections at a time; after each case, checks that a fresh
/// connection answers `SELECT 1` (and, with `server`, that memory stays under the limit). Stops
/// at the first failure.
pub async fn fuzz(
    addr: SocketAddr,
    recordings: Arc<Vec<Recording>>,
    config: &FuzzConfig,
    server: Option<Arc<FuzzServer>>,
) -> FuzzReport {
    let next = Arc::new(AtomicU64::new(config.first));
    let stop = Arc::new(AtomicBool::new(false));
    let report = Arc::new(Mutex::new(FuzzReport::default()));
    let in_flight: Arc<Mutex<Vec<Option<Case>>>> = Arc::new(Mutex::new(vec![None; config.workers]));
    let panics_seen = Arc::new(Mutex::new(0usize));
    let mut tasks = Vec::new();
    for worker in 0..config.workers {
        let (next, stop, report, in_flight, recordings, server, panics_seen) = (
            next.clone(),
            stop.clone(),
            report.clone(),
            in_flight.clone(),
            recordings.clone(),
            server.clone(),
            panics_seen.clone(),
        );
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                if stop.load(Ordering::SeqCst)
                    || config.deadline.is_some_and(|d| Instant::now() >= d)
                {
                    break;
                }
                let number = next.fetch_add(1, Ordering::SeqCst);
                if config.deadline.is_none() && number >= config.first + config.cases {
                    break;
                }
                let case = Case::generate(config.seed, number, &recordings);
                in_flight.lock().expect("in flight")[worker] = Some(case.clone());
                let outcome = play(addr, &case, config.timeouts).await;
                report.lock().expect("report").absorb(&case, &outcome);
                let mut problem = answers_select_1(addr, config.check).await.err();
                if let Some(server) = &server {
                    let rss = server.rss_kib().unwrap_or(0);
                    {
                        let mut report = report.lock().expect("report");
                        report.peak_rss_kib = report.peak_rss_kib.max(rss);
                    }
                    if problem.is_none() && rss > config.memory_limit_kib {
                        problem = Some(format!(
                            "runaway memory: {} MiB resident (limit {} MiB)",
                            rss / 1024,
                            config.memory_limit_kib / 1024
                        ));
                    }
                    let panics = server.panics();
                    let mut seen = panics_seen.lock().expect("panics seen");
                    if panics.len() > *seen {
                        let suspects: Vec<u64> = in_flight
                            .lock()
                            .expect("in flight")
                            .iter()
                            .flatten()
                            .map(|c| c.number)
                            .collect();
                        let mut report = report.lock().expect("report");
                        for line in &panics[*seen..] {
                            report.panics.push(PanicSeen {
                                line: line.clone(),
                                suspects: suspects.clone(),
                            });
                        }
                        *seen = panics.len();
                    }
                }
                if let Some(what) = problem {
                    if !stop.swap(true, Ordering::SeqCst) {
                        let suspects = in_flight
                            .lock()
                            .expect("in flight")
                            .iter()
                            .flatten()
                            .cloned()
                            .collect();
                        // A dying process may still be writing its last words.
                        let mut exit_status = None;
                        if let Some(server) = &server {
                            let until = Instant::now() + Duration::from_secs(2);
                            while exit_status.is_none() && Instant::now() < until {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                exit_status = server.exit_status();
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        let failure = Failure {
                            what,
                            suspects,
                            exit_status,
                            stderr_tail: server
                                .as_ref()
                                .map(|s| s.stderr_tail(30))
                                .unwrap_or_default(),
                        };
                        report.lock().expect("report").failure = Some(failure);
                    }
                    break;
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    report.lock().expect("report").clone()
}

// ---------------------------------------------------------------------------------------------
// Nasty cases on purpose

/// What happened while many bad connections were held open.
#[derive(Clone, Debug)]
pub struct HoldReport {
    pub what: String,
    pub connections: usize,
    /// Connections the server had already closed when we looked (after the check).
    pub closed_by_server: usize,
    pub rss_before_kib: Option<u64>,
    pub rss_during_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    /// The `SELECT 1` check while they were held, and how long it took.
    pub during: Result<Duration, String>,
    /// The check after they were dropped (retried for up to 30 s), and how long until it passed.
    pub after: Result<Duration, String>,
}

impl std::fmt::Display for HoldReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |v: Option<u64>| v.map_or("?".to_string(), |k| format!("{} MiB", k / 1024));
        write!(
            f,
            "{} ×{}: SELECT 1 meanwhile {:?}, after {:?}; server had closed {} of them; RSS {} → {} → {}",
            self.what,
            self.connections,
            self.during,
            self.after,
            self.closed_by_server,
            mib(self.rss_before_kib),
            mib(self.rss_during_kib),
            mib(self.rss_after_kib)
        )
    }
}

/// A well-formed startup as user `tester` for database `driftdb`.
pub fn good_startup() -> Vec<u8> {
    startup_frame(
        &[(b"user", b"tester"), (b"database", b"driftdb")],
        PROTOCOL_3_0,
    )
    .bytes
}

/// Kinds of connection held open by [`hold_connections`].
#[derive(Clone, Copy, Debug)]
pub enum Stall {
    /// Connect and send nothing.
    Silent,
    /// Half a startup packet.
    HalfStartup,
    /// An SSLRequest, then nothing.
    SslThenSilent,
    /// A startup packet whose length says 1 GB, with a few bytes of it.
    HugeStartup,
    /// A full startup, then a Query whose length says just under 1 GB, with 1 KB of it.
    HugeQuery,
    /// A full startup, `COPY … FROM STDIN`, then CopyData whose length says just under 1 GB.
    HugeCopyData,
}

fn stall_bytes(stall: Stall) -> Vec<u8> {
    match stall {
        Stall::Silent => Vec::new(),
        Stall::HalfStartup => {
            let s = good_startup();
            s[..s.len() / 2].to_vec()
        }
        Stall::SslThenSilent => Frame::untyped(&SSL_REQUEST.to_be_bytes()).bytes,
        Stall::HugeStartup => {
            let mut s = 0x4000_0000u32.to_be_bytes().to_vec();
            s.extend_from_slice(&PROTOCOL_3_0.to_be_bytes());
            s.extend_from_slice(b"user\0tester\0database\0driftdb\0");
            s
        }
        Stall::HugeQuery => {
            let mut s = good_startup();
            s.push(b'Q');
            s.extend_from_slice(&0x3fff_fff0u32.to_be_bytes());
            s.extend_from_slice(b"SELECT '");
            s.extend(std::iter::repeat_n(b'x', 1024));
            s
        }
        Stall::HugeCopyData => {
            let mut s = good_startup();
            s.extend_from_slice(
                &query_frame("CREATE TABLE IF NOT EXISTS wf_hold (id int, t text)").bytes,
            );
            s.extend_from_slice(&query_frame("COPY wf_hold FROM STDIN").bytes);
            s.push(b'd');
            s.extend_from_slice(&0x3fff_fff0u32.to_be_bytes());
            s.extend(std::iter::repeat_n(b'1', 64 * 1024));
            s
        }
    }
}

/// Opens `count` connections that each send `stall`'s bytes and then hang, checks `SELECT 1`
/// while they are held, closes them, and checks again.
pub async fn hold_connections(
    addr: SocketAddr,
    stall: Stall,
    count: usize,
    pid: Option<u32>,
) -> HoldReport {
    let rss_before_kib = pid.and_then(rss_kib);
    let bytes = stall_bytes(stall);
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        match timeout(Duration::from_secs(5), TcpStream::connect(addr)).await {
            Ok(Ok(mut stream)) => {
                if !bytes.is_empty() {
                    let _ = timeout(Duration::from_secs(5), stream.write_all(&bytes)).await;
                }
                held.push(stream);
            }
            _ => break,
        }
    }
    let started = Instant::now();
    let during = answers_select_1(addr, Duration::from_secs(20))
        .await
        .map(|()| started.elapsed());
    let rss_during_kib = pid.and_then(rss_kib);
    let mut closed_by_server = 0;
    for stream in &mut held {
        let mut buf = [0u8; 4096];
        loop {
            match timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed_by_server += 1;
                    break;
                }
                Ok(Ok(_)) => continue,
                Err(_) => break,
            }
        }
    }
    let connections = held.len();
    drop(held);
    // The server notices the closed sockets in its own time: retry for a while, and say how long
    // it took.
    let started = Instant::now();
    let after = loop {
        match answers_select_1(addr, Duration::from_secs(20)).await {
            Ok(()) => break Ok(started.elapsed()),
            Err(e) if started.elapsed() > Duration::from_secs(30) => break Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    HoldReport {
        what: format!("{stall:?}"),
        connections,
        closed_by_server,
        rss_before_kib,
        rss_during_kib,
        rss_after_kib: pid.and_then(rss_kib),
        during,
        after,
    }
}

/// How long the server keeps one connection that sent `stall`'s bytes before closing it (`None`
/// if it was still open after `limit`).
pub async fn time_until_closed(
    addr: SocketAddr,
    stall: Stall,
    limit: Duration,
) -> Option<Duration> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(&stall_bytes(stall)).await.ok()?;
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recordings() -> Vec<Recording> {
        load_recordings(&recordings_dir()).expect("recordings load")
    }

    #[test]
    fn cases_are_the_same_bytes_for_the_same_seed_and_number() {
        let recordings = recordings();
        for number in 0..200 {
            let a = Case::generate(7, number, &recordings);
            let b = Case::generate(7, number, &recordings);
            assert_eq!(a.bytes(), b.bytes());
            assert_eq!(a.mutations, b.mutations);
        }
    }

    #[test]
    fn recordings_begin_with_a_startup_packet() {
        for recording in recordings() {
            let (prefix, _) = split_recording(&recording);
            let first = prefix.last().expect("a startup-phase packet");
            assert!(
                first.code() == Some(PROTOCOL_3_0) || first.code() == Some(CANCEL_REQUEST),
                "{}",
                recording.name
            );
        }
    }

    #[test]
    fn recorded_binds_take_apart_and_put_back_together() {
        for recording in recordings() {
            for message in &recording.messages[1..] {
                if message[0] == b'B' {
                    let frame = Frame {
                        bytes: message.clone(),
                        typed: true,
                    };
                    let bind = Bind::parse(frame.body()).expect("a recorded Bind parses");
                    assert_eq!(bind.encode_honest(), frame.body());
                }
            }
        }
    }
}
