//! A seeded mutation fuzz of the decoder and `describe`, in process: every damaged input must
//! give `Corrupt` (or `Truncated`-style `Corrupt`), or batches that pass arrow-data's full
//! validation; a panic escaping, an abort or any other error fails the run.
//!
//! CI runs it bounded; run it longer by hand (stable Rust, no cargo-fuzz needed):
//! `FASTIO_FUZZ_CASES=1000000 FASTIO_FUZZ_SECONDS=3600 cargo test --release --test fuzz_decode`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, RecordBatchIterator, StringArray,
};
use arrow_buffer::Buffer;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use fastio_core::{
    describe, encode_to_vec, Compression, EncodeOptions, FastIoError, IpcContents, IpcSource,
};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn batch(offset: i64) -> RecordBatch {
    let rows = 700;
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(offset..offset + rows));
    let values: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..rows).map(|i| (i % 7 != 0).then_some(i as f64 * 0.25)),
    ));
    let names: ArrayRef = Arc::new(StringArray::from_iter(
        (0..rows).map(|i| (i % 5 != 0).then(|| format!("name-{}", i % 41))),
    ));
    let lists: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
        (0..rows).map(|i| (i % 3 != 0).then(|| (0..(i % 4) as i32).map(Some).collect::<Vec<_>>())),
    ));
    let mut keys = StringDictionaryBuilder::<Int32Type>::new();
    for i in 0..rows {
        keys.append_value(format!("k{}", i % 6));
    }
    let keys: ArrayRef = Arc::new(keys.finish());
    RecordBatch::try_from_iter(vec![
        ("id", ids),
        ("value", values),
        ("name", names),
        ("list", lists),
        ("key", keys),
    ])
    .unwrap()
}

/// Files from our encoder and files and streams from arrow-ipc's writers.
fn seeds() -> Vec<Vec<u8>> {
    let batches: Vec<RecordBatch> = (0..3).map(|i| batch(i * 700)).collect();
    let schema = batches[0].schema();
    let mut seeds = Vec::new();
    for compression in [Compression::Zstd, Compression::Lz4Frame, Compression::None] {
        let reader = RecordBatchIterator::new(batches.iter().cloned().map(Ok), schema.clone());
        let options = EncodeOptions {
            chunk_rows: Some(500),
            ..EncodeOptions::new(compression)
        };
        seeds.push(encode_to_vec(reader, &options).unwrap().0);
    }
    for codec in [
        Some(CompressionType::ZSTD),
        Some(CompressionType::LZ4_FRAME),
        None,
    ] {
        let options = IpcWriteOptions::default()
            .try_with_compression(codec)
            .unwrap();
        let mut file = Vec::new();
        let mut writer =
            FileWriter::try_new_with_options(&mut file, &schema, options.clone()).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
        drop(writer);
        seeds.push(file);
        let mut stream = Vec::new();
        let mut writer = StreamWriter::try_new_with_options(&mut stream, &schema, options).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
        drop(writer);
        seeds.push(stream);
    }
    seeds
}

/// xorshift64*: a seeded, reproducible source of mutations.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn mutate(&mut self, data: &[u8]) -> Vec<u8> {
        let mut data = data.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(data.len());
            match self.below(6) {
                0 => data[at] ^= 1 << self.below(8),
                1 => {
                    for i in at..(at + 1 + self.below(16)).min(data.len()) {
                        data[i] = self.next() as u8;
                    }
                }
                2 => {
                    let value = [0u32, 0x7fff_ffff, 0x8000_0000, u32::MAX, 8][self.below(5)];
                    let end = (at + 4).min(data.len());
                    data[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
                }
                3 => data.truncate(at.max(1)),
                4 => {
                    let insert: Vec<u8> =
                        (0..1 + self.below(64)).map(|_| self.next() as u8).collect();
                    data.splice(at..at, insert);
                }
                _ => {
                    let value = [0i64, -1, 1 << 62, i64::MAX, 1 << 40][self.below(5)];
                    let end = (at + 8).min(data.len());
                    data[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
                }
            }
        }
        data
    }
}

/// What one damaged input gave.
enum Outcome {
    Corrupt,
    Valid,
}

fn decode(data: Vec<u8>, columns: Option<&[String]>) -> Result<Outcome, String> {
    let opened = IpcContents::open(IpcSource::Memory(Buffer::from_vec(data)), columns);
    let batches = match opened.and_then(|contents| contents.read_all()) {
        Ok(batches) => batches,
        Err(FastIoError::Corrupt(_)) => return Ok(Outcome::Corrupt),
        Err(FastIoError::InvalidArgument(message)) if message.contains("no column named") => {
            return Ok(Outcome::Corrupt)
        }
        Err(other) => return Err(format!("not a corrupt-file error: {other:?}")),
    };
    for batch in batches {
        for column in batch.columns() {
            column
                .to_data()
                .validate_full()
                .map_err(|e| format!("a decoded column is invalid: {e}"))?;
        }
    }
    Ok(Outcome::Valid)
}

#[test]
fn damaged_inputs_are_refused_or_decode_to_valid_data() {
    if std::env::var_os("FASTIO_PANIC_MESSAGES").is_none() {
        // Caught panics (arrow-rs's, on damaged headers) would print thousands of messages;
        // one that escaped still fails the test. FASTIO_PANIC_MESSAGES=1 shows them.
        std::panic::set_hook(Box::new(|_| {}));
    }
    let cases = setting("FASTIO_FUZZ_CASES", 30_000);
    let budget = Duration::from_secs(setting("FASTIO_FUZZ_SECONDS", 20));
    let seeds = seeds();
    let columns = ["name".to_string(), "key".to_string()];
    let started = Instant::now();
    let (mut tried, mut corrupt, mut valid) = (0u64, 0u64, 0u64);
    let mut failures = Vec::new();
    for case in 0..cases {
        if started.elapsed() > budget {
            break;
        }
        let mut mutator = Mutator(case.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let data = mutator.mutate(&seeds[case as usize % seeds.len()]);
        let projected = (case % 2 == 1).then_some(&columns[..]);
        for outcome in [
            decode(data.clone(), projected),
            match describe(&Buffer::from_vec(data)) {
                Ok(_) => Ok(Outcome::Valid),
                Err(FastIoError::Corrupt(_)) => Ok(Outcome::Corrupt),
                Err(other) => Err(format!("describe: not a corrupt-file error: {other:?}")),
            },
        ] {
            match outcome {
                Ok(Outcome::Corrupt) => corrupt += 1,
                Ok(Outcome::Valid) => valid += 1,
                Err(message) => failures.push((case, message)),
            }
        }
        tried += 1;
    }
    eprintln!(
        "fuzz_decode: {tried} cases in {:.1} s: {corrupt} refused, {valid} read, {} failures",
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert!(tried >= cases.min(2000), "too few cases ran: {tried}");
    assert!(corrupt > 0 && valid > 0);
}
