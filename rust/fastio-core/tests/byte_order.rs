//! Streams and files whose schema says they were written big-endian are refused on every core
//! path, never decoded into wrong values.
//!
//! arrow-rs writes only the machine's byte order, so the inputs are built here: the schema
//! message and footer come from arrow-ipc's flatbuffer builders with `Endianness::Big`, and
//! the record batch messages from arrow-ipc's own writer, each value buffer then byte-swapped,
//! so the inputs are what a big-endian machine writes (pyarrow reads them back to [`batch`]).
//!
//! The same bytes are committed under `tests/data/` for the Python tests of the bindings, the
//! manager and the CLI; this test checks the committed copies are exactly what it builds.
//! `FASTIO_WRITE_FIXTURES=1 cargo test --test byte_order` rewrites them.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::types::IntervalMonthDayNano;
use arrow_array::{
    ArrayRef, Date32Array, Float64Array, Int32Array, Int64Array, IntervalMonthDayNanoArray,
    RecordBatch, StringArray,
};
use arrow_buffer::Buffer;
use arrow_ipc::writer::StreamWriter;
use arrow_ipc::{
    Block, DateBuilder, DateUnit, Endianness, FieldBuilder, FloatingPointBuilder, FooterBuilder,
    IntBuilder, IntervalBuilder, IntervalUnit, MessageBuilder, MessageHeader, MetadataVersion,
    Precision, SchemaBuilder, Type, Utf8Builder,
};
use fastio_core::{describe, FastIoError, IpcContents, IpcSource};
use flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};

/// Types whose values a byte-order mix-up changes. (Not decimal: arrow-ipc's schema conversion
/// refuses big-endian decimals itself, and this input must show the paths that do not.)
fn batch() -> RecordBatch {
    let interval = IntervalMonthDayNano::new(1, 2, 3_000);
    let columns: Vec<(&str, ArrayRef, bool)> = vec![
        ("i32", Arc::new(Int32Array::from(vec![1, -2, 3])), true),
        (
            "i64",
            Arc::new(Int64Array::from(vec![1 << 40, 2, -3])),
            true,
        ),
        (
            "f64",
            Arc::new(Float64Array::from(vec![0.5, 1.5, -2.5])),
            true,
        ),
        (
            "day",
            Arc::new(Date32Array::from(vec![19_000, 19_001, 0])),
            true,
        ),
        (
            "name",
            Arc::new(StringArray::from(vec!["a", "bb", "ccc"])),
            true,
        ),
        (
            "span",
            Arc::new(IntervalMonthDayNanoArray::from(vec![interval; 3])),
            true,
        ),
    ];
    RecordBatch::try_from_iter_with_nullable(columns).unwrap()
}

/// The schema of [`batch`] as a flatbuffer table that says it was written in `byte_order`.
fn schema_table<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    byte_order: Endianness,
) -> WIPOffset<arrow_ipc::Schema<'a>> {
    let int = |fbb: &mut FlatBufferBuilder<'a>, width| {
        let mut b = IntBuilder::new(fbb);
        b.add_bitWidth(width);
        b.add_is_signed(true);
        b.finish().as_union_value()
    };
    let types: Vec<(&str, Type, WIPOffset<UnionWIPOffset>)> = vec![
        ("i32", Type::Int, int(fbb, 32)),
        ("i64", Type::Int, int(fbb, 64)),
        ("f64", Type::FloatingPoint, {
            let mut b = FloatingPointBuilder::new(fbb);
            b.add_precision(Precision::DOUBLE);
            b.finish().as_union_value()
        }),
        ("day", Type::Date, {
            let mut b = DateBuilder::new(fbb);
            b.add_unit(DateUnit::DAY);
            b.finish().as_union_value()
        }),
        (
            "name",
            Type::Utf8,
            Utf8Builder::new(fbb).finish().as_union_value(),
        ),
        ("span", Type::Interval, {
            let mut b = IntervalBuilder::new(fbb);
            b.add_unit(IntervalUnit::MONTH_DAY_NANO);
            b.finish().as_union_value()
        }),
    ];
    let fields: Vec<_> = types
        .into_iter()
        .map(|(name, type_type, type_)| {
            let name = fbb.create_string(name);
            let children = fbb.create_vector::<WIPOffset<arrow_ipc::Field>>(&[]);
            let mut field = FieldBuilder::new(fbb);
            field.add_name(name);
            field.add_nullable(true);
            field.add_type_type(type_type);
            field.add_type_(type_);
            field.add_children(children);
            field.finish()
        })
        .collect();
    let fields = fbb.create_vector(&fields);
    let mut schema = SchemaBuilder::new(fbb);
    schema.add_endianness(byte_order);
    schema.add_fields(fields);
    schema.finish()
}

/// The schema as an encapsulated stream message: marker, length, flatbuffer padded to 8 bytes.
fn schema_message(byte_order: Endianness) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let schema = schema_table(&mut fbb, byte_order);
    let mut message = MessageBuilder::new(&mut fbb);
    message.add_version(MetadataVersion::V5);
    message.add_header_type(MessageHeader::Schema);
    message.add_header(schema.as_union_value());
    message.add_bodyLength(0);
    let message = message.finish();
    fbb.finish(message, None);
    let mut flatbuffer = fbb.finished_data().to_vec();
    flatbuffer.resize(flatbuffer.len().next_multiple_of(8), 0);
    let mut encapsulated = vec![0xff; 4];
    encapsulated.extend_from_slice(&(flatbuffer.len() as i32).to_le_bytes());
    encapsulated.extend_from_slice(&flatbuffer);
    encapsulated
}

/// How each buffer of [`batch`]'s columns is swapped, in the order a record batch message lists
/// them: validity bitmaps and string bytes are not, the interval's three parts are separately.
const SWAPS: [&[usize]; 13] = [
    &[],
    &[4],
    &[],
    &[8],
    &[],
    &[8],
    &[],
    &[4],
    &[],
    &[4],
    &[],
    &[],
    &[4, 4, 8],
];

/// Reverses the bytes of each value in `buffer`, whose values are made of parts `widths` wide.
fn swap_values(buffer: &mut [u8], widths: &[usize]) {
    let value: usize = widths.iter().sum();
    for chunk in buffer.chunks_exact_mut(value.max(1)) {
        let mut start = 0;
        for width in widths {
            chunk[start..start + width].reverse();
            start += width;
        }
    }
}

/// The record batch messages arrow-ipc writes for [`batch`], without the schema message and
/// the end-of-stream marker, and each one's (metadata length, body length). With
/// `Endianness::Big`, every value buffer is swapped.
fn batch_messages(byte_order: Endianness) -> (Vec<u8>, Vec<(usize, usize)>) {
    let batch = batch();
    let mut stream = Vec::new();
    let mut writer = StreamWriter::try_new(&mut stream, &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    drop(writer);
    let mut offset = 0;
    let mut messages = Vec::new();
    let mut lengths = Vec::new();
    loop {
        let metadata_len =
            i32::from_le_bytes(stream[offset + 4..offset + 8].try_into().unwrap()) as usize;
        if metadata_len == 0 {
            break;
        }
        let flatbuffer = &stream[offset + 8..offset + 8 + metadata_len];
        let message = arrow_ipc::root_as_message(flatbuffer).unwrap();
        let end = offset + 8 + metadata_len + message.bodyLength() as usize;
        if message.header_type() == MessageHeader::RecordBatch {
            let body_start = messages.len() + 8 + metadata_len;
            messages.extend_from_slice(&stream[offset..end]);
            if byte_order == Endianness::Big {
                let header = message.header_as_record_batch().unwrap();
                let buffers = header.buffers().unwrap();
                assert_eq!(buffers.len(), SWAPS.len());
                for (buffer, widths) in buffers.iter().zip(SWAPS) {
                    let start = body_start + buffer.offset() as usize;
                    let end = start + buffer.length() as usize;
                    swap_values(&mut messages[start..end], widths);
                }
            }
            lengths.push((8 + metadata_len, end - offset - 8 - metadata_len));
        }
        offset = end;
    }
    (messages, lengths)
}

fn stream(byte_order: Endianness) -> Vec<u8> {
    let mut stream = schema_message(byte_order);
    stream.extend_from_slice(&batch_messages(byte_order).0);
    stream.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    stream
}

fn file(byte_order: Endianness) -> Vec<u8> {
    let mut file = b"ARROW1\0\0".to_vec();
    file.extend_from_slice(&schema_message(byte_order));
    let (messages, lengths) = batch_messages(byte_order);
    let mut blocks = Vec::new();
    let mut offset = file.len();
    for (metadata_len, body_len) in lengths {
        blocks.push(Block::new(
            offset as i64,
            metadata_len as i32,
            body_len as i64,
        ));
        offset += metadata_len + body_len;
    }
    file.extend_from_slice(&messages);
    let mut fbb = FlatBufferBuilder::new();
    let schema = schema_table(&mut fbb, byte_order);
    let blocks = fbb.create_vector(&blocks);
    let mut footer = FooterBuilder::new(&mut fbb);
    footer.add_version(MetadataVersion::V5);
    footer.add_schema(schema);
    footer.add_recordBatches(blocks);
    let footer = footer.finish();
    fbb.finish(footer, None);
    file.extend_from_slice(fbb.finished_data());
    file.extend_from_slice(&(fbb.finished_data().len() as i32).to_le_bytes());
    file.extend_from_slice(b"ARROW1");
    file
}

fn assert_refused(result: fastio_core::Result<impl Sized>, path: &str) {
    match result {
        Err(FastIoError::Corrupt(message)) => assert!(
            message.contains("big-endian") && message.contains("not supported"),
            "{path}: {message}"
        ),
        Err(other) => panic!("{path}: not a corrupt-file error: {other}"),
        Ok(_) => panic!("{path}: a big-endian input was read"),
    }
}

fn open_and_read(source: IpcSource<'_>) -> fastio_core::Result<Vec<RecordBatch>> {
    IpcContents::open(source, None)?.read_all()
}

#[test]
fn big_endian_inputs_are_refused_on_every_core_path() {
    let folder = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("stream", stream(Endianness::Big)),
        ("file", file(Endianness::Big)),
    ] {
        let path = folder.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let memory = || IpcSource::Memory(Buffer::from_vec(bytes.clone()));
        assert_refused(open_and_read(memory()), &format!("{name} in memory"));
        assert_refused(
            IpcContents::open(memory(), Some(&["i32".to_string()])),
            &format!("{name} in memory, projected"),
        );
        assert_refused(
            open_and_read(IpcSource::Path(&path)),
            &format!("{name} read"),
        );
        assert_refused(
            open_and_read(IpcSource::MappedPath(&path)),
            &format!("{name} mapped"),
        );
        assert_refused(
            describe(&Buffer::from_vec(bytes.clone())),
            &format!("{name} described"),
        );
    }
}

#[test]
fn the_same_inputs_marked_little_endian_decode() {
    // The builders make valid inputs: only the flag is refused.
    let expected = batch();
    for bytes in [stream(Endianness::Little), file(Endianness::Little)] {
        let decoded = open_and_read(IpcSource::Memory(Buffer::from_vec(bytes))).unwrap();
        assert_eq!(decoded, vec![expected.clone(), expected.clone()]);
    }
}

#[test]
fn committed_fixtures_are_what_the_builders_make() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    for (name, bytes) in [
        ("big_endian.arrows", stream(Endianness::Big)),
        ("big_endian.arrow", file(Endianness::Big)),
    ] {
        let path = folder.join(name);
        if std::env::var_os("FASTIO_WRITE_FIXTURES").is_some() {
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (FASTIO_WRITE_FIXTURES=1 writes it)",
                path.display()
            )
        });
        assert_eq!(
            committed, bytes,
            "{name} differs from what the builders make"
        );
    }
}
