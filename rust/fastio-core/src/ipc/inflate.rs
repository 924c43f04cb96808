//! Compressed record batch bodies decompressed into one 64-byte-aligned buffer, buffer by
//! buffer in parallel, with a rebuilt header that names no codec.
//!
//! When only some columns are read, only their buffers are decompressed (or, for an
//! uncompressed body, copied) and the others are left empty: the decoded columns share this one
//! allocation, so a projection must not keep the whole batch alive behind a few columns.
//!
//! arrow-ipc decompresses each buffer into an allocation of its own, one batch at a time, and
//! its lz4 path goes through a frame reader that zero-fills and copies. Here the 8-byte prefix
//! of every buffer (its uncompressed length) is read first, so the whole uncompressed body is
//! laid out and allocated once; each buffer is then decompressed by its codec library straight
//! into its place, as its own task on the rayon pool. arrow-ipc decodes the result as an
//! uncompressed batch, with alignment required: nothing is copied again.

use std::mem::MaybeUninit;

use arrow_buffer::{Buffer, MutableBuffer};
use arrow_ipc::CompressionType;
use flatbuffers::FlatBufferBuilder;
use rayon::prelude::*;

use crate::error::{FastIoError, Result};
use crate::ipc::batch_header;
use crate::ipc::codec;
use crate::ipc::guard::max_uncompressed_len;

/// Buffers start at multiples of this in the rebuilt body (the Arrow format asks for 8; 64
/// matches what arrow-rs and pyarrow allocate, so SIMD kernels see aligned data).
const ALIGNMENT: usize = 64;

/// Bodies above this are first checked against what the allocator can give.
const PROBE_ABOVE: usize = 64 << 20;

/// Bodies below this are decompressed on the calling thread: a task costs more than the work.
const PARALLEL_ABOVE: usize = 1 << 20;

/// A decompressed record batch: its rebuilt header and its body.
pub(crate) struct Inflated {
    header: Vec<u8>,
    pub body: Buffer,
}

impl Inflated {
    /// The rebuilt `RecordBatch` table: the same nodes and variadic counts, buffers pointing
    /// into [`Inflated::body`], no compression.
    pub fn batch(&self) -> Result<arrow_ipc::RecordBatch<'_>> {
        flatbuffers::root::<arrow_ipc::RecordBatch>(&self.header).map_err(rebuilt_invalid)
    }

    /// The rebuilt `DictionaryBatch` table, for an [`inflate_dictionary`] result.
    pub fn dictionary(&self) -> Result<arrow_ipc::DictionaryBatch<'_>> {
        flatbuffers::root::<arrow_ipc::DictionaryBatch>(&self.header).map_err(rebuilt_invalid)
    }
}

fn rebuilt_invalid(error: flatbuffers::InvalidFlatbuffer) -> FastIoError {
    FastIoError::Internal(format!("a rebuilt batch header is invalid: {error}"))
}

/// Decompresses a compressed record batch, whose body is `body`; with `kept` (one flag per
/// buffer), only the kept buffers, the others left empty.
pub(crate) fn inflate_batch(
    batch: &arrow_ipc::RecordBatch<'_>,
    body: &[u8],
    kept: Option<&[bool]>,
) -> Result<Inflated> {
    let codec = batch
        .compression()
        .map(|compression| compression.codec())
        .ok_or_else(|| FastIoError::Internal("inflate called on an uncompressed batch".into()))?;
    inflate(batch, body, Some(codec), None, kept)
}

/// The `kept` buffers (one flag per buffer) of an uncompressed record batch, copied into a new
/// body; the others left empty.
pub(crate) fn compact_batch(
    batch: &arrow_ipc::RecordBatch<'_>,
    body: &[u8],
    kept: &[bool],
) -> Result<Inflated> {
    inflate(batch, body, None, None, Some(kept))
}

/// Decompresses a dictionary batch whose data is compressed.
pub(crate) fn inflate_dictionary(
    dictionary: &arrow_ipc::DictionaryBatch<'_>,
    body: &[u8],
) -> Result<Inflated> {
    let data = dictionary
        .data()
        .ok_or_else(|| corrupt("a dictionary batch has no data"))?;
    let codec = data
        .compression()
        .map(|compression| compression.codec())
        .ok_or_else(|| FastIoError::Internal("inflate called on an uncompressed batch".into()))?;
    inflate(&data, body, Some(codec), Some(dictionary), None)
}

/// Writes the first `out.len()` bytes of one buffer of a batch whose body is `body`,
/// decompressed with `codec` (or copied when uncompressed), into `out`: a column's values
/// straight into the memory that keeps them. A buffer shorter than `out` is corrupt; a longer
/// one (padding) is decompressed whole and cut.
pub(crate) fn fill_from(
    buffer: &arrow_ipc::Buffer,
    body: &[u8],
    codec: Option<CompressionType>,
    out: &mut [u8],
) -> Result<()> {
    let (source, len) = locate(buffer, body, codec)?;
    if len < out.len() {
        return Err(corrupt(format!(
            "a buffer of {len} bytes where its column needs {}",
            out.len()
        )));
    }
    if len == out.len() {
        // Safety: viewing initialised bytes as MaybeUninit assumes nothing of them.
        let place = unsafe {
            std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut MaybeUninit<u8>, out.len())
        };
        return write_piece(&source, place);
    }
    let mut whole: Vec<MaybeUninit<u8>> = Vec::with_capacity(len);
    // Safety: MaybeUninit needs no initialisation; write_piece writes every byte or fails.
    unsafe { whole.set_len(len) };
    write_piece(&source, &mut whole)?;
    // Safety: every byte of `whole` was written above.
    let bytes = unsafe { std::slice::from_raw_parts(whole.as_ptr() as *const u8, len) };
    out.copy_from_slice(&bytes[..out.len()]);
    Ok(())
}

/// Where one buffer's bytes come from.
enum Source<'a> {
    /// Nothing to write (an empty buffer, or one whose prefix says 0 bytes).
    Empty,
    /// Stored uncompressed (prefix -1): copied as is, now aligned.
    Raw(&'a [u8]),
    /// A frame of the codec that must decompress to exactly `len` bytes.
    Frame(&'a [u8], CompressionType),
}

struct Piece<'a> {
    source: Source<'a>,
    /// Place and length in the rebuilt body.
    offset: usize,
    len: usize,
}

/// Decompresses (`codec`) or copies (no codec) the buffers of `batch`, whose body is `body`,
/// into one new body: every buffer, or those `kept` flags. The header is rebuilt inside
/// `dictionary`'s table when the batch is a dictionary's data.
fn inflate(
    batch: &arrow_ipc::RecordBatch<'_>,
    body: &[u8],
    codec: Option<CompressionType>,
    dictionary: Option<&arrow_ipc::DictionaryBatch<'_>>,
    kept: Option<&[bool]>,
) -> Result<Inflated> {
    if let Some(codec) = codec {
        if codec != CompressionType::LZ4_FRAME && codec != CompressionType::ZSTD {
            return Err(corrupt(format!("unknown compression codec {}", codec.0)));
        }
    }
    let buffers = batch
        .buffers()
        .ok_or_else(|| corrupt("a record batch lists no buffers"))?;
    if kept.is_some_and(|kept| kept.len() != buffers.len()) {
        return Err(corrupt(format!(
            "a record batch lists {} buffers where its schema has {}",
            buffers.len(),
            kept.map_or(0, <[bool]>::len)
        )));
    }
    let mut pieces = Vec::with_capacity(buffers.len());
    let mut end = 0usize;
    for (index, buffer) in buffers.iter().enumerate() {
        let (source, len) = if kept.is_some_and(|kept| !kept[index]) {
            (Source::Empty, 0)
        } else {
            locate(buffer, body, codec)?
        };
        let offset = end.next_multiple_of(ALIGNMENT);
        end = offset
            .checked_add(len)
            .ok_or_else(|| corrupt("the buffers of a batch add up to more than memory"))?;
        pieces.push(Piece {
            source,
            offset,
            len,
        });
    }
    let total = end.next_multiple_of(ALIGNMENT);
    let body = fill(&pieces, total)?;
    Ok(Inflated {
        header: rebuilt_header(batch, &pieces, dictionary),
        body,
    })
}

/// The source of one buffer and its uncompressed length: from its 8-byte prefix when
/// compressed, its own bytes when not.
fn locate<'a>(
    buffer: &arrow_ipc::Buffer,
    body: &'a [u8],
    codec: Option<CompressionType>,
) -> Result<(Source<'a>, usize)> {
    let (Ok(offset), Ok(length)) = (
        usize::try_from(buffer.offset()),
        usize::try_from(buffer.length()),
    ) else {
        return Err(corrupt("a buffer has a negative offset or length"));
    };
    if length == 0 {
        return Ok((Source::Empty, 0));
    }
    let Some(codec) = codec else {
        let bytes = offset
            .checked_add(length)
            .filter(|end| *end <= body.len())
            .map(|end| &body[offset..end])
            .ok_or_else(|| corrupt("a buffer lies outside its message"))?;
        return Ok((Source::Raw(bytes), length));
    };
    let bytes = offset
        .checked_add(length)
        .filter(|end| length >= 8 && *end <= body.len())
        .map(|end| &body[offset..end])
        .ok_or_else(|| corrupt("a compressed buffer lies outside its message"))?;
    let (prefix, frame) = bytes.split_at(8);
    let declared = i64::from_le_bytes(prefix.try_into().expect("eight bytes"));
    match declared {
        -1 => Ok((Source::Raw(frame), frame.len())),
        0 => Ok((Source::Empty, 0)),
        _ => {
            let limit = max_uncompressed_len(frame.len(), codec);
            let len = usize::try_from(declared)
                .ok()
                .filter(|len| *len <= limit)
                .ok_or_else(|| {
                    corrupt(format!(
                        "a buffer of {length} compressed bytes claims {declared} uncompressed bytes"
                    ))
                })?;
            Ok((Source::Frame(frame, codec), len))
        }
    }
}

/// Allocates the body and writes every piece into it, zeroing the padding between them.
fn fill(pieces: &[Piece<'_>], total: usize) -> Result<Buffer> {
    if total > PROBE_ABOVE && Vec::<u8>::new().try_reserve_exact(total).is_err() {
        // MutableBuffer aborts the process when an allocation fails; damaged lengths that
        // passed the ratio checks still must not get that far. (The probe allocates, so
        // ordinary batch sizes skip it.)
        return Err(corrupt(format!(
            "a batch claims {total} uncompressed bytes, more than this process can allocate"
        )));
    }
    let mut body = MutableBuffer::with_capacity(total);
    // Safety: the capacity is at least `total` bytes, owned by `body`; viewed as MaybeUninit
    // nothing is assumed about their contents.
    let memory =
        unsafe { std::slice::from_raw_parts_mut(body.as_mut_ptr() as *mut MaybeUninit<u8>, total) };
    // Each piece's place runs to the next piece (or the end): its data, then padding. The
    // first piece starts at 0.
    let mut places = Vec::with_capacity(pieces.len());
    let mut rest = memory;
    for (index, piece) in pieces.iter().enumerate() {
        let next = pieces.get(index + 1).map_or(total, |next| next.offset);
        let (place, tail) = std::mem::take(&mut rest).split_at_mut(next - piece.offset);
        places.push((piece, place));
        rest = tail;
    }
    let write = |(piece, place): (&Piece<'_>, &mut [MaybeUninit<u8>])| {
        let (data, padding) = place.split_at_mut(piece.len);
        padding.fill(MaybeUninit::new(0));
        write_piece(&piece.source, data)
    };
    if total > PARALLEL_ABOVE {
        crate::pool::pool().install(|| places.into_par_iter().try_for_each(write))?;
    } else {
        places.into_iter().try_for_each(write)?;
    }
    // Safety: every byte of 0..total was written above: each piece's data by its codec (its
    // length checked) and the padding after it. With no pieces, `total` is 0.
    unsafe { body.set_len(total) };
    Ok(body.into())
}

fn write_piece(source: &Source<'_>, out: &mut [MaybeUninit<u8>]) -> Result<()> {
    match source {
        Source::Empty => Ok(()),
        Source::Raw(bytes) => {
            // Safety: `out` is exactly `bytes.len()` long (its length came from the same slice)
            // and the two never overlap (one is the input, the other a new allocation).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    out.as_mut_ptr() as *mut u8,
                    out.len(),
                )
            };
            Ok(())
        }
        Source::Frame(frame, codec) => codec::decompress_into(*codec, frame, out),
    }
}

/// The batch's table again, with buffers in the new body and without the compression field
/// (inside a copy of its dictionary table when it is one's data).
fn rebuilt_header(
    batch: &arrow_ipc::RecordBatch<'_>,
    pieces: &[Piece<'_>],
    dictionary: Option<&arrow_ipc::DictionaryBatch<'_>>,
) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::with_capacity(256 + pieces.len() * 16);
    let buffers: Vec<arrow_ipc::Buffer> = pieces
        .iter()
        .map(|piece| arrow_ipc::Buffer::new(piece.offset as i64, piece.len as i64))
        .collect();
    let data = batch_header::rebuild(&mut fbb, batch, &buffers, None);
    match dictionary {
        None => fbb.finish(data, None),
        Some(dictionary) => {
            let mut builder = arrow_ipc::DictionaryBatchBuilder::new(&mut fbb);
            builder.add_id(dictionary.id());
            builder.add_isDelta(dictionary.isDelta());
            builder.add_data(data);
            let root = builder.finish();
            fbb.finish(root, None)
        }
    }
    fbb.finished_data().to_vec()
}

fn corrupt(message: impl Into<String>) -> FastIoError {
    FastIoError::Corrupt(message.into())
}
