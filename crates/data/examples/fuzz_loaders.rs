//! A mutation fuzzer for the strict loaders, on the normal release build (no nightly, no
//! sanitizers, no re-instrumented burn tree): real fixtures are mutated at random, each mutant is
//! handed to the loader under `catch_unwind`, and a counting global allocator records the largest
//! single allocation the loader asks for.
//!
//! ```text
//! cargo run --release -p mnist-data --example fuzz_loaders -- \
//!     --target mat|idx-images|idx-labels --seconds N [--seed S] [--findings DIR] [--replay FILE]
//! ```
//!
//! A *finding* is
//! - a panic that escapes the loader;
//! - a single allocation larger than max(64 MiB, 64 × the input's length): memory sized by an
//!   untrusted header before the file's length confirmed it;
//! - a mutant that loads as *fewer* images than its seed (for review: a short load must be an
//!   error unless the header and the data were changed consistently);
//! - an execution where the loader takes over 2 s (the seeds load in about a millisecond);
//! - a mutant of checksummed bytes (the compressed `.mat`, a `.gz` as stored) that loads as
//!   anything but its seed's exact data.
//!
//! Each finding's input is saved under `fuzz/findings/<target>/` (or `--findings DIR`) with a
//! `.txt` describing it; `--replay FILE` runs the target once on a saved input. A request above
//! 8 GiB is not attempted: the input is saved as `abort-input.*` and the process aborts, because
//! stable Rust cannot unwind from an allocation failure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::{GzDecoder, ZlibDecoder};
use flate2::write::{GzEncoder, ZlibEncoder};
use mnist_data::{DataError, Split, idx, mat, testing};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const MIB: usize = 1 << 20;
/// Requests above this are refused (after saving the input) instead of tried.
const HARD_CAP: usize = 8 << 30;
/// An execution slower than this is a finding (the fixtures load in about a millisecond).
const SLOW: Duration = Duration::from_secs(2);

// ---- counting allocator ----

struct CountingAlloc;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
static CURRENT_PTR: AtomicPtr<u8> = AtomicPtr::new(null_mut());
static CURRENT_LEN: AtomicUsize = AtomicUsize::new(0);
static ABORT_FILE: OnceLock<PathBuf> = OnceLock::new();
static SAVING: AtomicBool = AtomicBool::new(false);

/// Records a request; false when it is over the hard cap and must fail.
fn note(size: usize) -> bool {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    if size <= HARD_CAP {
        return true;
    }
    if !SAVING.swap(true, Ordering::SeqCst) {
        // Nested allocations below are small and pass straight through.
        let (ptr, len) = (
            CURRENT_PTR.load(Ordering::SeqCst),
            CURRENT_LEN.load(Ordering::SeqCst),
        );
        if let Some(path) = ABORT_FILE.get()
            && !ptr.is_null()
        {
            // SAFETY: the harness publishes the input only while it is alive and unchanged.
            let input = unsafe { std::slice::from_raw_parts(ptr, len) };
            let _ = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")));
            let _ = std::fs::write(path, input);
            eprintln!(
                "FINDING: allocation of {size} bytes requested; input saved to {}; aborting",
                path.display()
            );
        }
    }
    false
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return null_mut();
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return null_mut();
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !note(new_size) {
            return null_mut();
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

// ---- quiet panics ----

static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

/// Keeps the first panic of an execution (a panic in the loader's worker thread comes before
/// the scope's re-panic) and prints nothing.
fn record_panic(info: &std::panic::PanicHookInfo<'_>) {
    let message = info.payload_as_str().unwrap_or("<non-string payload>");
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let mut slot = PANIC_MESSAGE.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        *slot = Some(format!("{message} (at {location})"));
    }
}

fn take_panic() -> Option<String> {
    PANIC_MESSAGE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
}

// ---- arguments ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Mat,
    IdxImages,
    IdxLabels,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Mat => "mat",
            Target::IdxImages => "idx-images",
            Target::IdxLabels => "idx-labels",
        }
    }
}

struct Args {
    target: Target,
    seconds: f64,
    seed: u64,
    findings: PathBuf,
    replay: Option<PathBuf>,
}

const USAGE: &str = "usage: fuzz_loaders --target mat|idx-images|idx-labels --seconds N \
                     [--seed S] [--findings DIR] [--replay FILE]";

fn parse_args() -> Result<Args, String> {
    let mut target = None;
    let mut seconds = 60.0;
    let mut seed = None;
    let mut findings = None;
    let mut replay = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--target" => {
                target = Some(match value()?.as_str() {
                    "mat" => Target::Mat,
                    "idx-images" => Target::IdxImages,
                    "idx-labels" => Target::IdxLabels,
                    other => return Err(format!("unknown target {other:?}\n{USAGE}")),
                })
            }
            "--seconds" => seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--seed" => seed = Some(value()?.parse().map_err(|e| format!("--seed: {e}"))?),
            "--findings" => findings = Some(PathBuf::from(value()?)),
            "--replay" => replay = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let target = target.ok_or(format!("--target is required\n{USAGE}"))?;
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let findings =
        findings.unwrap_or_else(|| repo_root().join("fuzz/findings").join(target.name()));
    Ok(Args {
        target,
        seconds,
        seed,
        findings,
        replay,
    })
}

fn repo_root() -> PathBuf {
    let root = mnist_data::repo_root();
    root.canonicalize().unwrap_or(root)
}

// ---- mutations ----

#[derive(Clone, Copy)]
enum Width {
    U8,
    U16,
    U32,
}

/// A header field worth hitting with extreme values.
#[derive(Clone, Copy)]
struct Field {
    at: usize,
    width: Width,
    big_endian: bool,
}

impl Field {
    fn le32(at: usize) -> Self {
        Self {
            at,
            width: Width::U32,
            big_endian: false,
        }
    }
    fn be32(at: usize) -> Self {
        Self {
            at,
            width: Width::U32,
            big_endian: true,
        }
    }
    fn le16(at: usize) -> Self {
        Self {
            at,
            width: Width::U16,
            big_endian: false,
        }
    }
    fn byte(at: usize) -> Self {
        Self {
            at,
            width: Width::U8,
            big_endian: false,
        }
    }
    fn len(self) -> usize {
        match self.width {
            Width::U8 => 1,
            Width::U16 => 2,
            Width::U32 => 4,
        }
    }
    fn read(self, b: &[u8]) -> u32 {
        let s = &b[self.at..self.at + self.len()];
        let mut w = [0u8; 4];
        if self.big_endian {
            w[4 - s.len()..].copy_from_slice(s);
            u32::from_be_bytes(w)
        } else {
            w[..s.len()].copy_from_slice(s);
            u32::from_le_bytes(w)
        }
    }
    fn write(self, b: &mut [u8], v: u32) {
        let n = self.len();
        let bytes = if self.big_endian {
            v.to_be_bytes()[4 - n..].to_vec()
        } else {
            v.to_le_bytes()[..n].to_vec()
        };
        b[self.at..self.at + n].copy_from_slice(&bytes);
    }
}

const EXTREME_U32: [u32; 26] = [
    0,
    1,
    2,
    4,
    7,
    8,
    9,
    14,
    15,
    16,
    28,
    255,
    256,
    783,
    784,
    785,
    2049,
    2051,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];
/// u16s: versions 0x0100/0x0200, "IM"/"MI" as endian indicators, gzip's magic.
const EXTREME_U16: [u16; 9] = [0, 1, 0x0100, 0x0200, 0x7fff, 0xffff, 0x4d49, 0x494d, 0x8b1f];
const EXTREME_U8: [u8; 10] = [0, 1, 2, 4, 8, 16, 0x1f, 0x7f, 0x80, 0xff];

fn interesting(rng: &mut SmallRng, field: Field, orig: u32) -> u32 {
    match field.width {
        Width::U8 => match rng.random_range(0..3) {
            0 => rng.random::<u8>() as u32,
            _ => EXTREME_U8[rng.random_range(0..EXTREME_U8.len())] as u32,
        },
        Width::U16 => match rng.random_range(0..4) {
            0 => rng.random::<u16>() as u32,
            1 => orig.wrapping_add(rng.random_range(1..=4)) & 0xffff,
            _ => EXTREME_U16[rng.random_range(0..EXTREME_U16.len())] as u32,
        },
        Width::U32 => match rng.random_range(0..6) {
            0 | 1 => EXTREME_U32[rng.random_range(0..EXTREME_U32.len())],
            2 => {
                let d = rng.random_range(1..=16);
                if rng.random() {
                    orig.wrapping_add(d)
                } else {
                    orig.wrapping_sub(d)
                }
            }
            3 => match rng.random_range(0..3) {
                0 => orig.wrapping_mul(2),
                1 => orig / 2,
                _ => orig ^ (1 << rng.random_range(0..32)),
            },
            // Log-uniform: every order of magnitude equally likely.
            _ => {
                let k = rng.random_range(0..32);
                (1u32 << k) | (rng.random::<u32>() & ((1u32 << k) - 1))
            }
        },
    }
}

/// Applies one random mutation to `bytes`; returns its name.
fn mutate(rng: &mut SmallRng, bytes: &mut Vec<u8>, fields: &[Field]) -> &'static str {
    let len = bytes.len();
    match rng.random_range(0..10) {
        0 if len > 0 => {
            for _ in 0..rng.random_range(1..=8) {
                let i = rng.random_range(0..len);
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            "bit-flip"
        }
        1 if len > 0 => {
            for _ in 0..rng.random_range(1..=8) {
                let i = rng.random_range(0..len);
                bytes[i] = if rng.random() {
                    rng.random()
                } else {
                    EXTREME_U8[rng.random_range(0..EXTREME_U8.len())]
                };
            }
            "byte-set"
        }
        2 => {
            let at = if !fields.is_empty() && rng.random() {
                let f = fields[rng.random_range(0..fields.len())];
                (f.at + rng.random_range(0..16)).saturating_sub(8).min(len)
            } else {
                rng.random_range(0..=len)
            };
            bytes.truncate(at);
            "truncate"
        }
        3 => {
            let n = if rng.random_range(0..8) == 0 {
                rng.random_range(4096..=256 * 1024)
            } else {
                rng.random_range(1..=4096)
            };
            let fill = rng.random_range(0..3);
            let start = bytes.len();
            bytes.resize(start + n, if fill == 1 { 0xff } else { 0 });
            if fill == 2 {
                rng.fill(&mut bytes[start..]);
            }
            "extend"
        }
        4 if len > 0 => {
            let from = rng.random_range(0..len);
            let n = rng.random_range(1..=(len - from).min(8192));
            let to = rng.random_range(0..=len);
            let chunk = bytes[from..from + n].to_vec();
            bytes.splice(to..to, chunk);
            "duplicate-chunk"
        }
        5 if len > 0 => {
            let from = rng.random_range(0..len);
            let n = rng.random_range(1..=(len - from).min(8192));
            bytes.drain(from..from + n);
            "delete-chunk"
        }
        _ => {
            let usable: Vec<Field> = fields
                .iter()
                .copied()
                .filter(|f| f.at + f.len() <= len)
                .collect();
            if usable.is_empty() {
                if len > 0 {
                    let i = rng.random_range(0..len);
                    bytes[i] ^= 1 << rng.random_range(0..8);
                }
                return "bit-flip";
            }
            let f = usable[rng.random_range(0..usable.len())];
            let v = interesting(rng, f, f.read(bytes));
            f.write(bytes, v);
            "header-field"
        }
    }
}

/// 1 mutation half the time, 2 a quarter, ... up to 6.
fn how_many(rng: &mut SmallRng) -> u32 {
    1 + rng.random::<u32>().trailing_zeros().min(5)
}

// ---- MAT seeds ----

const HEADER_LEN: usize = 128;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[derive(Clone)]
struct MatElement {
    compressed: bool,
    /// The miMATRIX element, tag included, uncompressed.
    matrix: Vec<u8>,
    /// The zlib stream to write for a compressed element; `None`: compress `matrix`.
    zlib: Option<Vec<u8>>,
}

struct MatSeed {
    name: &'static str,
    header: Vec<u8>,
    elements: Vec<MatElement>,
    file: Vec<u8>,
    fields: Vec<Field>,
    train: Split,
    test: Split,
}

impl MatSeed {
    fn new(name: &'static str, file: Vec<u8>) -> Self {
        let (train, test) = mat::parse(Path::new(name), &file).expect("seed loads");
        let header = file[..HEADER_LEN].to_vec();
        let mut elements = Vec::new();
        let mut off = HEADER_LEN;
        while off + 8 <= file.len() {
            let ty = le32(&file[off..]);
            let end = off + 8 + le32(&file[off + 4..]) as usize;
            if ty == MI_COMPRESSED {
                let zlib = file[off + 8..end].to_vec();
                let mut matrix = Vec::new();
                ZlibDecoder::new(&zlib[..])
                    .read_to_end(&mut matrix)
                    .expect("seed inflates");
                elements.push(MatElement {
                    compressed: true,
                    matrix,
                    zlib: Some(zlib),
                });
                off = end;
            } else {
                assert_eq!(ty, MI_MATRIX);
                elements.push(MatElement {
                    compressed: false,
                    matrix: file[off..end].to_vec(),
                    zlib: None,
                });
                off = end.div_ceil(8) * 8;
            }
        }
        let (rebuilt, fields) = serialize_mat(&header, &elements);
        assert_eq!(rebuilt, file, "{name}: seed re-serializes to itself");
        Self {
            name,
            header,
            elements,
            file,
            fields,
            train,
            test,
        }
    }
}

/// The tag words of a miMATRIX element and of its first sub-elements (flags, dims, name, data),
/// with the first data words of each (class, dimensions, ...).
fn matrix_fields(m: &[u8]) -> Vec<Field> {
    let mut fields = vec![Field::le32(0), Field::le32(4)];
    let mut p = 8;
    for _ in 0..5 {
        if p + 8 > m.len() {
            break;
        }
        let first = le32(&m[p..]);
        fields.push(Field::le32(p));
        fields.push(Field::le32(p + 4));
        if first >> 16 != 0 {
            p += 8; // small data element
            continue;
        }
        let size = le32(&m[p + 4..]) as usize;
        let data_end = (p + 8).saturating_add(size.min(16)).min(m.len());
        fields.extend(
            (p + 8..data_end.saturating_sub(3))
                .step_by(4)
                .map(Field::le32),
        );
        p = match size
            .div_ceil(8)
            .checked_mul(8)
            .and_then(|s| s.checked_add(p + 8))
        {
            Some(next) => next,
            None => break,
        };
    }
    fields
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::fast());
    z.write_all(bytes).expect("compress in memory");
    z.finish().expect("compress in memory")
}

/// The file for `elements`, and its header fields: the MAT header's version and endian words,
/// every top-level tag, and for uncompressed elements their inner fields.
fn serialize_mat(header: &[u8], elements: &[MatElement]) -> (Vec<u8>, Vec<Field>) {
    let mut out = header.to_vec();
    let mut fields = vec![Field::le32(0), Field::le16(124), Field::le16(126)];
    for el in elements {
        let off = out.len();
        if el.compressed {
            let z = match &el.zlib {
                Some(z) => z.clone(),
                None => zlib(&el.matrix),
            };
            out.extend_from_slice(&MI_COMPRESSED.to_le_bytes());
            out.extend_from_slice(&(z.len() as u32).to_le_bytes());
            out.extend_from_slice(&z);
            fields.extend([Field::le32(off), Field::le32(off + 4)]);
        } else {
            out.extend_from_slice(&el.matrix);
            out.resize(out.len().div_ceil(8) * 8, 0);
            fields.extend(matrix_fields(&el.matrix).into_iter().map(|mut f| {
                f.at += off;
                f
            }));
        }
    }
    (out, fields)
}

/// Renames a variable to another course name of the same length, in place.
fn rename(rng: &mut SmallRng, m: &mut [u8]) {
    let names: Vec<String> = mat::variable_names("train")
        .chain(mat::variable_names("test"))
        .collect();
    // The writer's layout: flags (16 bytes) and dims (16) after the tag, then the name's tag.
    let (tag, start) = (8 + 16 + 16, 8 + 16 + 16 + 8);
    if m.len() < start {
        return;
    }
    let len = le32(&m[tag + 4..]) as usize;
    let same: Vec<&String> = names.iter().filter(|n| n.len() == len).collect();
    if same.is_empty() || m.len() < start + len {
        return;
    }
    let to = same[rng.random_range(0..same.len())];
    m[start..start + len].copy_from_slice(to.as_bytes());
}

fn mat_case(rng: &mut SmallRng, seeds: &[MatSeed]) -> Case {
    let s = rng.random_range(0..seeds.len());
    let seed = &seeds[s];
    if rng.random() {
        let mut bytes = seed.file.clone();
        for _ in 0..how_many(rng) {
            mutate(rng, &mut bytes, &seed.fields);
        }
        return Case {
            bytes,
            gz: false,
            seed: s,
            mode: "raw",
            // The compressed seed: every variable is under zlib's Adler-32.
            checksummed: seed.elements.iter().all(|e| e.compressed),
            plain: None,
        };
    }
    // Structured: mutate inside elements (past zlib's checksum) and rearrange them.
    let mut els = seed.elements.clone();
    for _ in 0..how_many(rng) {
        if els.is_empty() {
            break;
        }
        let i = rng.random_range(0..els.len());
        match rng.random_range(0..10) {
            0..=5 => {
                let fields = matrix_fields(&els[i].matrix);
                mutate(rng, &mut els[i].matrix, &fields);
                els[i].zlib = None;
            }
            6 => {
                rename(rng, &mut els[i].matrix);
                els[i].zlib = None;
            }
            7 => {
                let j = rng.random_range(0..els.len());
                match rng.random_range(0..3) {
                    0 => {
                        els.remove(i);
                    }
                    1 => {
                        let copy = els[i].clone();
                        els.insert(j, copy);
                    }
                    _ => els.swap(i, j),
                }
            }
            8 => els[i].compressed = !els[i].compressed,
            _ => {
                // Damage the zlib stream itself: its header bytes, its Adler-32, anywhere.
                let mut z = els[i].zlib.take().unwrap_or_else(|| zlib(&els[i].matrix));
                let fields = [
                    Field::byte(0),
                    Field::byte(1),
                    Field::be32(z.len().saturating_sub(4)),
                ];
                mutate(rng, &mut z, &fields);
                els[i].zlib = Some(z);
                els[i].compressed = true;
            }
        }
    }
    let (mut bytes, fields) = serialize_mat(&seed.header, &els);
    if rng.random_range(0..10) < 3 {
        for _ in 0..rng.random_range(1..=2) {
            mutate(rng, &mut bytes, &fields);
        }
    }
    Case {
        bytes,
        gz: false,
        seed: s,
        mode: "structured",
        checksummed: false,
        plain: None,
    }
}

// ---- IDX seeds ----

struct IdxSeed {
    name: String,
    raw: Vec<u8>,
    gz: Vec<u8>,
    /// What the loader returns for the seed: the bytes after the header.
    payload: Vec<u8>,
}

fn idx_seeds(target: Target) -> Vec<IdxSeed> {
    let dir = testing::fixtures_dir().join("mnist-idx");
    let stems = match target {
        Target::IdxImages => [idx::TRAIN_FILES.0, idx::TEST_FILES.0],
        _ => [idx::TRAIN_FILES.1, idx::TEST_FILES.1],
    };
    stems
        .iter()
        .map(|stem| {
            let path = dir.join(format!("{stem}.gz"));
            let gz = std::fs::read(&path).expect("read IDX fixture");
            let mut raw = Vec::new();
            GzDecoder::new(&gz[..])
                .read_to_end(&mut raw)
                .expect("gunzip fixture");
            let payload = load_idx(target, &path).expect("seed loads");
            IdxSeed {
                name: format!("{stem}.gz"),
                raw,
                gz,
                payload,
            }
        })
        .collect()
}

fn idx_fields(target: Target) -> Vec<Field> {
    let words = if target == Target::IdxImages { 4 } else { 2 };
    (0..words).map(|w| Field::be32(4 * w)).collect()
}

/// Gzip's magic, method, flags, mtime, xfl, os, and its trailer's CRC-32 and length.
fn gz_fields(len: usize) -> Vec<Field> {
    let mut f = vec![
        Field::le16(0),
        Field::byte(2),
        Field::byte(3),
        Field::le32(4),
        Field::byte(8),
        Field::byte(9),
        Field::le16(10),
    ];
    if len >= 8 {
        f.extend([Field::le32(len - 8), Field::le32(len - 4)]);
    }
    f
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut z = GzEncoder::new(Vec::new(), Compression::fast());
    z.write_all(bytes).expect("compress in memory");
    z.finish().expect("compress in memory")
}

fn idx_case(rng: &mut SmallRng, target: Target, seeds: &[IdxSeed]) -> Case {
    let s = rng.random_range(0..seeds.len());
    let seed = &seeds[s];
    let fields = idx_fields(target);
    match rng.random_range(0..3) {
        0 => {
            let mut bytes = seed.raw.clone();
            for _ in 0..how_many(rng) {
                mutate(rng, &mut bytes, &fields);
            }
            Case {
                plain: Some(bytes.clone()),
                bytes,
                gz: false,
                seed: s,
                mode: "raw",
                checksummed: false,
            }
        }
        1 => {
            let mut bytes = seed.gz.clone();
            let gzf = gz_fields(bytes.len());
            for _ in 0..how_many(rng) {
                mutate(rng, &mut bytes, &gzf);
            }
            Case {
                bytes,
                gz: true,
                seed: s,
                mode: "gz-bytes",
                checksummed: true,
                plain: None,
            }
        }
        _ => {
            let mut raw = seed.raw.clone();
            for _ in 0..how_many(rng) {
                mutate(rng, &mut raw, &fields);
            }
            let mut bytes = gzip(&raw);
            if rng.random_range(0..5) == 0 {
                let gzf = gz_fields(bytes.len());
                mutate(rng, &mut bytes, &gzf);
            }
            Case {
                bytes,
                gz: true,
                seed: s,
                mode: "gz-of-mutated",
                checksummed: false,
                plain: Some(raw),
            }
        }
    }
}

fn load_idx(target: Target, path: &Path) -> Result<Vec<u8>, DataError> {
    if target == Target::IdxImages {
        idx::read_images(path)
    } else {
        idx::read_labels(path)
    }
}

// ---- running ----

struct Case {
    bytes: Vec<u8>,
    gz: bool,
    seed: usize,
    mode: &'static str,
    /// The seed's data is all under a checksum the loader verifies (zlib's or gzip's), and the
    /// mutations were applied to the stored bytes: a success must be the seed's exact data.
    checksummed: bool,
    /// IDX only, when the mutations were applied to the uncompressed bytes: those bytes. A success
    /// must return exactly their data after the header (gzip's CRC covers them when gzipped).
    plain: Option<Vec<u8>>,
}

enum Outcome {
    Full,
    Changed,
    Short {
        got: usize,
        want: usize,
    },
    /// An IDX success that is not the data after the input's own header.
    Wrong,
    Err(DataError),
    Panic(String),
}

enum Seeds {
    Mat(Vec<MatSeed>),
    Idx(Vec<IdxSeed>),
}

struct Fuzzer {
    target: Target,
    seeds: Seeds,
    dir: tempfile::TempDir,
}

impl Fuzzer {
    fn new(target: Target) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let seeds = if target == Target::Mat {
            let mini = std::fs::read(testing::fixtures_dir().join("mnist-mini.mat"))
                .expect("read fixture");
            let compressed = MatSeed::new("mnist-mini.mat", mini);
            let plain = dir.path().join("mnist-mini-uncompressed.mat");
            testing::write_mat(
                &plain,
                &testing::course_variables(&compressed.train, &compressed.test),
                false,
            )
            .expect("write uncompressed seed");
            let plain = MatSeed::new(
                "mnist-mini.mat, uncompressed",
                std::fs::read(&plain).expect("read uncompressed seed"),
            );
            assert!(plain.train == compressed.train && plain.test == compressed.test);
            Seeds::Mat(vec![compressed, plain])
        } else {
            Seeds::Idx(idx_seeds(target))
        };
        Self { target, seeds, dir }
    }

    fn seed_name(&self, s: usize) -> String {
        match &self.seeds {
            Seeds::Mat(seeds) => seeds[s].name.to_string(),
            Seeds::Idx(seeds) => seeds[s].name.clone(),
        }
    }

    fn case(&self, rng: &mut SmallRng) -> Case {
        match &self.seeds {
            Seeds::Mat(seeds) => mat_case(rng, seeds),
            Seeds::Idx(seeds) => idx_case(rng, self.target, seeds),
        }
    }

    /// Runs the loader on one input; returns the outcome, its largest single allocation and the
    /// time the loader took (writing the input file not included).
    fn run(&self, case: &Case) -> (Outcome, usize, Duration) {
        let path = self
            .dir
            .path()
            .join(if case.gz { "input.gz" } else { "input" });
        if self.target != Target::Mat {
            std::fs::write(&path, &case.bytes).expect("write input");
        }
        CURRENT_PTR.store(case.bytes.as_ptr() as *mut u8, Ordering::SeqCst);
        CURRENT_LEN.store(case.bytes.len(), Ordering::SeqCst);
        LARGEST.store(0, Ordering::SeqCst);
        let start = Instant::now();
        let (outcome, largest) = match &self.seeds {
            Seeds::Mat(seeds) => {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    mat::parse(Path::new("fuzz-input.mat"), &case.bytes)
                }));
                let (largest, took) = (LARGEST.load(Ordering::SeqCst), start.elapsed());
                let seed = &seeds[case.seed];
                let outcome = match r {
                    Err(_) => Outcome::Panic(take_panic().unwrap_or_default()),
                    Ok(Err(e)) => Outcome::Err(e),
                    Ok(Ok((train, test))) => {
                        if train == seed.train && test == seed.test {
                            Outcome::Full
                        } else if train.len() < seed.train.len() || test.len() < seed.test.len() {
                            Outcome::Short {
                                got: train.len() + test.len(),
                                want: seed.train.len() + seed.test.len(),
                            }
                        } else {
                            Outcome::Changed
                        }
                    }
                };
                ((outcome, took), largest)
            }
            Seeds::Idx(seeds) => {
                let r = catch_unwind(AssertUnwindSafe(|| load_idx(self.target, &path)));
                let (largest, took) = (LARGEST.load(Ordering::SeqCst), start.elapsed());
                let want = &seeds[case.seed].payload;
                let header = if self.target == Target::IdxImages {
                    16
                } else {
                    8
                };
                let outcome = match r {
                    Err(_) => Outcome::Panic(take_panic().unwrap_or_default()),
                    Ok(Err(e)) => Outcome::Err(e),
                    Ok(Ok(got))
                        if case
                            .plain
                            .as_ref()
                            .is_some_and(|p| p.get(header..) != Some(&got[..])) =>
                    {
                        Outcome::Wrong
                    }
                    Ok(Ok(got)) if got == *want => Outcome::Full,
                    Ok(Ok(got)) if got.len() < want.len() => Outcome::Short {
                        got: got.len(),
                        want: want.len(),
                    },
                    Ok(Ok(_)) => Outcome::Changed,
                };
                ((outcome, took), largest)
            }
        };
        CURRENT_PTR.store(null_mut(), Ordering::SeqCst);
        let (outcome, took) = outcome;
        (outcome, largest, took)
    }
}

fn kind_name(e: &DataError) -> String {
    let debug = format!("{:?}", e.kind);
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("?")
        .to_string()
}

fn allocation_limit(input_len: usize) -> usize {
    (64 * MIB).max(input_len.saturating_mul(64))
}

struct Findings {
    target: &'static str,
    dir: PathBuf,
    ext: &'static str,
    /// Signature → how many times it was hit.
    by_signature: BTreeMap<String, u64>,
    saved: Vec<PathBuf>,
}

impl Findings {
    fn record(&mut self, signature: String, what: &str, case: &Case, exec: u64, seed_name: &str) {
        let hits = self.by_signature.entry(signature.clone()).or_insert(0);
        *hits += 1;
        if *hits > 3 {
            return; // enough examples of this one
        }
        let slug: String = signature
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        let stem = format!("{:03}-{slug}", self.saved.len() + 1);
        let ext = if case.gz { "idx.gz" } else { self.ext };
        let input = self.dir.join(format!("{stem}.{ext}"));
        let note = format!(
            "{what}\nsignature: {signature}\nexecution: {exec}\nseed input: {seed_name}\n\
             mode: {}\ninput length: {} bytes\nreplay: cargo run --release -p mnist-data \
             --example fuzz_loaders -- --target {} --replay {}\n",
            case.mode,
            case.bytes.len(),
            self.target,
            input.display()
        );
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&input, &case.bytes))
            .and_then(|()| std::fs::write(self.dir.join(format!("{stem}.txt")), note));
        match written {
            Ok(()) => self.saved.push(input),
            Err(e) => eprintln!("cannot save finding to {}: {e}", self.dir.display()),
        }
    }
    fn total(&self) -> u64 {
        self.by_signature.values().sum()
    }
}

fn replay(args: &Args) {
    std::panic::set_hook(Box::new(record_panic));
    let (outcome, largest, len) = if args.target == Target::Mat {
        let bytes = std::fs::read(args.replay.as_ref().expect("replay path")).expect("read input");
        LARGEST.store(0, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| {
            mat::parse(args.replay.as_ref().expect("replay path"), &bytes)
                .map(|(a, b)| format!("{} + {} images", a.len(), b.len()))
        }));
        (r, LARGEST.load(Ordering::SeqCst), bytes.len())
    } else {
        let path = args.replay.clone().expect("replay path");
        let len = std::fs::metadata(&path).map_or(0, |m| m.len() as usize);
        LARGEST.store(0, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| {
            load_idx(args.target, &path).map(|v| format!("{} bytes of data", v.len()))
        }));
        (r, LARGEST.load(Ordering::SeqCst), len)
    };
    let _ = std::panic::take_hook();
    match outcome {
        Ok(Ok(what)) => println!("loaded: {what}"),
        Ok(Err(e)) => println!("error ({}): {e}", kind_name(&e)),
        Err(_) => println!("PANIC: {}", take_panic().unwrap_or_default()),
    }
    println!(
        "largest single allocation: {largest} bytes (input {len} bytes, limit {})",
        allocation_limit(len)
    );
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if args.replay.is_some() {
        replay(&args);
        return;
    }
    let fuzzer = Fuzzer::new(args.target);
    let ext = if args.target == Target::Mat {
        "mat"
    } else {
        "idx"
    };
    let _ = ABORT_FILE.set(args.findings.join(format!("abort-input.{ext}")));
    let mut findings = Findings {
        target: args.target.name(),
        dir: args.findings.clone(),
        ext,
        by_signature: BTreeMap::new(),
        saved: Vec::new(),
    };
    let mut rng = SmallRng::seed_from_u64(args.seed);
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut modes: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut caught: BTreeMap<String, u64> = BTreeMap::new();
    let (mut execs, mut full, mut changed, mut short, mut panics, mut big) = (0u64, 0, 0, 0, 0, 0);
    let (mut short_valid, mut wrong) = (0u64, 0u64);
    let (mut largest_seen, mut largest_len, mut slowest) = (0usize, 0usize, Duration::ZERO);
    let (mut slowest_exec, mut slowest_mode, mut slow) = (0u64, "", 0u64);
    eprintln!(
        "fuzzing {} for {} s, seed {}, findings in {}",
        args.target.name(),
        args.seconds,
        args.seed,
        args.findings.display()
    );

    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.seconds);
    let mut next_report = start + Duration::from_secs(60);
    std::panic::set_hook(Box::new(record_panic));
    while Instant::now() < deadline {
        let case = fuzzer.case(&mut rng);
        *modes.entry(case.mode).or_default() += 1;
        let (outcome, largest, took) = fuzzer.run(&case);
        execs += 1;
        let seed_name = fuzzer.seed_name(case.seed);
        if took > slowest {
            (slowest, slowest_exec, slowest_mode) = (took, execs, case.mode);
        }
        if took > SLOW {
            slow += 1;
            let what = format!("the loader took {:.1} s", took.as_secs_f64());
            findings.record("slow".into(), &what, &case, execs, &seed_name);
        }
        // A panic inside the loader that the loader caught itself (matfile's) is not a finding.
        let stray_panic = take_panic();
        match &outcome {
            Outcome::Full => full += 1,
            Outcome::Changed => {
                changed += 1;
                if case.checksummed {
                    let what = "loaded data other than the seed's through a checksum";
                    let signature = format!("changed-{}", case.mode);
                    findings.record(signature, what, &case, execs, &seed_name);
                }
            }
            // A smaller IDX file whose header and length agree (and whose data was checked
            // above) is valid: only the split's image/label count check can tell it apart.
            Outcome::Short { .. } if args.target != Target::Mat && !case.checksummed => {
                short += 1;
                short_valid += 1;
            }
            Outcome::Short { got, want } => {
                short += 1;
                let what = format!("loaded {got} items where the seed has {want}");
                let signature = format!("short-{}", case.mode);
                findings.record(signature, &what, &case, execs, &seed_name);
            }
            Outcome::Wrong => {
                wrong += 1;
                let what = "loaded data that is not the bytes after the file's own header";
                let signature = format!("wrong-data-{}", case.mode);
                findings.record(signature, what, &case, execs, &seed_name);
            }
            Outcome::Err(e) => *errors.entry(kind_name(e)).or_default() += 1,
            Outcome::Panic(message) => {
                panics += 1;
                let signature = format!("panic {message}");
                findings.record(
                    signature,
                    &format!("panic: {message}"),
                    &case,
                    execs,
                    &seed_name,
                );
            }
        }
        if !matches!(outcome, Outcome::Panic(_))
            && let Some(message) = stray_panic
        {
            *caught.entry(message).or_default() += 1;
        }
        if largest > largest_seen {
            (largest_seen, largest_len) = (largest, case.bytes.len());
        }
        if largest > allocation_limit(case.bytes.len()) {
            big += 1;
            let signature = format!("alloc-2^{}", usize::BITS - largest.leading_zeros() - 1);
            let what = format!(
                "single allocation of {largest} bytes for an input of {} bytes (limit {})",
                case.bytes.len(),
                allocation_limit(case.bytes.len())
            );
            findings.record(signature, &what, &case, execs, &seed_name);
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(60);
            eprintln!(
                "  {:>4.0} s: {execs} executions, {:.0}/s, {} findings",
                start.elapsed().as_secs_f64(),
                execs as f64 / start.elapsed().as_secs_f64(),
                findings.total()
            );
        }
    }
    let _ = std::panic::take_hook();
    let elapsed = start.elapsed().as_secs_f64();

    let err_total: u64 = errors.values().sum();
    println!("== fuzz_loaders summary ==");
    println!("target:      {}", args.target.name());
    println!("seed:        {}", args.seed);
    println!("seconds:     {elapsed:.1}");
    println!("executions:  {execs}");
    println!("exec/s:      {:.1}", execs as f64 / elapsed);
    let modes: Vec<String> = modes.iter().map(|(m, n)| format!("{m} {n}")).collect();
    println!("inputs:      {}", modes.join(", "));
    println!(
        "ok:          {} (the seed's data {full}, other data {changed}, fewer items {short}, \
         wrong data {wrong})",
        full + changed + short + wrong
    );
    if short_valid > 0 {
        println!(
            "  fewer items: {short_valid} valid smaller IDX files (header count = length, data \
             checked; not findings)"
        );
    }
    println!("err:         {err_total}");
    for (kind, n) in &errors {
        println!("  {kind:<16} {n}");
    }
    println!("panics:      {panics}");
    println!(
        "panics caught inside the loader: {}",
        caught.values().sum::<u64>()
    );
    for (message, n) in &caught {
        println!("  {n} × {message}");
    }
    println!("oversized allocations (> max(64 MiB, 64 × input)): {big}");
    println!("largest single allocation: {largest_seen} bytes (input of {largest_len} bytes)");
    println!(
        "slowest execution: {:.1} ms (execution {slowest_exec}, {slowest_mode}); over {} s: {slow}",
        slowest.as_secs_f64() * 1000.0,
        SLOW.as_secs()
    );
    println!("findings:    {}", findings.total());
    for (signature, n) in &findings.by_signature {
        println!("  {n} × {signature}");
    }
    for path in &findings.saved {
        println!("  saved {}", path.display());
    }
}
