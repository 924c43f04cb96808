//! End-to-end checks of the core: what the encoder writes, arrow-rs's own reader reads back,
//! and the decoder reads what arrow-rs writes.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, RecordBatchIterator, StringArray,
};
use arrow_buffer::Buffer;
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use fastio_core::{
    encode_to_vec, map_file, AtomicFile, Compression, EncodeOptions, FastIoError, IpcContents,
    IpcFileEncoder, IpcSource,
};

fn sample(rows: usize, offset: i64) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(offset..offset + rows as i64));
    let values: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..rows).map(|i| (i % 7 != 0).then_some(i as f64 * 0.5)),
    ));
    let names: ArrayRef = Arc::new(StringArray::from_iter(
        (0..rows).map(|i| (i % 5 != 0).then(|| format!("name-{}", i % 97))),
    ));
    let lists: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
        (0..rows).map(|i| (i % 3 != 0).then(|| (0..(i % 4) as i32).map(Some).collect::<Vec<_>>())),
    ));
    RecordBatch::try_from_iter_with_nullable(vec![
        ("id", ids, false),
        ("value", values, true),
        ("name", names, true),
        ("list", lists, true),
    ])
    .unwrap()
}

fn batches(sizes: &[usize]) -> (SchemaRef, Vec<RecordBatch>) {
    let mut offset = 0;
    let batches: Vec<RecordBatch> = sizes
        .iter()
        .map(|&rows| {
            let batch = sample(rows, offset);
            offset += rows as i64;
            batch
        })
        .collect();
    (sample(0, 0).schema(), batches)
}

fn encode(batches: &[RecordBatch], schema: SchemaRef, options: &EncodeOptions) -> Vec<u8> {
    let reader = RecordBatchIterator::new(batches.iter().cloned().map(Ok), schema);
    encode_to_vec(reader, options).unwrap().0
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&batches[0].schema(), batches).unwrap()
}

/// Every batch of `bytes`, decoded by our decoder.
fn decode_all(bytes: Vec<u8>) -> fastio_core::Result<Vec<RecordBatch>> {
    IpcContents::open(IpcSource::Memory(Buffer::from_vec(bytes)), None)
        .and_then(|contents| contents.read_all())
}

fn read_with_arrow(bytes: &[u8]) -> Vec<RecordBatch> {
    FileReader::try_new(Cursor::new(bytes), None)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn arrow_rs_reads_every_compression() {
    let (schema, input) = batches(&[10_000, 3, 25_000, 0, 1]);
    for compression in [Compression::Zstd, Compression::Lz4Frame, Compression::None] {
        let mut options = EncodeOptions::new(compression);
        options.chunk_rows = Some(4096);
        let bytes = encode(&input, schema.clone(), &options);
        let output = read_with_arrow(&bytes);
        assert!(
            output.len() > 5,
            "{compression:?}: expected re-chunked batches"
        );
        assert!(output.iter().all(|b| b.num_rows() <= 4096 + 2048));
        assert_eq!(concat(&output), concat(&input), "{compression:?}");
    }
}

#[test]
fn parallel_and_sequential_encodings_are_identical() {
    let (schema, input) = batches(&[50_000, 20_000, 7, 30_000]);
    let mut options = EncodeOptions::new(Compression::Zstd);
    options.chunk_rows = Some(5000);
    let parallel = encode(&input, schema.clone(), &options);
    options.parallel = false;
    let sequential = encode(&input, schema, &options);
    assert_eq!(parallel, sequential);
}

#[test]
fn compression_shrinks_repetitive_data() {
    let (schema, input) = batches(&[100_000]);
    let plain = encode(
        &input,
        schema.clone(),
        &EncodeOptions::new(Compression::None),
    );
    let zstd = encode(
        &input,
        schema.clone(),
        &EncodeOptions::new(Compression::Zstd),
    );
    let lz4 = encode(&input, schema, &EncodeOptions::new(Compression::Lz4Frame));
    assert!(
        zstd.len() * 2 < plain.len(),
        "zstd {} vs plain {}",
        zstd.len(),
        plain.len()
    );
    assert!(lz4.len() < plain.len());
}

#[test]
fn decoder_reads_our_files_and_projects_columns() {
    let (schema, input) = batches(&[12_345, 6_789]);
    let bytes = encode(&input, schema, &EncodeOptions::new(Compression::Lz4Frame));
    let contents =
        IpcContents::open(IpcSource::Memory(Buffer::from_vec(bytes.clone())), None).unwrap();
    assert_eq!(concat(&contents.read_all().unwrap()), concat(&input));

    let columns = vec!["name".to_string(), "id".to_string()];
    let contents = IpcContents::open(
        IpcSource::Memory(Buffer::from_vec(bytes.clone())),
        Some(&columns),
    )
    .unwrap();
    let projected = concat(&contents.read_all().unwrap());
    assert_eq!(projected, concat(&input).project(&[2, 0]).unwrap());

    let unknown = vec!["nope".to_string()];
    let error = IpcContents::open(IpcSource::Memory(Buffer::from_vec(bytes)), Some(&unknown))
        .err()
        .unwrap();
    assert!(
        matches!(error, FastIoError::InvalidArgument(ref m) if m.contains("nope")),
        "{error}"
    );
}

#[test]
fn decoder_reads_arrow_rs_files_and_streams() {
    let (schema, input) = batches(&[1000, 2000]);
    for compression in [
        None,
        Some(CompressionType::ZSTD),
        Some(CompressionType::LZ4_FRAME),
    ] {
        let options = IpcWriteOptions::default()
            .try_with_compression(compression)
            .unwrap();
        let mut file = Vec::new();
        let mut writer =
            FileWriter::try_new_with_options(&mut file, &schema, options.clone()).unwrap();
        let mut stream = Vec::new();
        let mut stream_writer =
            StreamWriter::try_new_with_options(&mut stream, &schema, options).unwrap();
        for batch in &input {
            writer.write(batch).unwrap();
            stream_writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
        stream_writer.finish().unwrap();
        for bytes in [file, stream] {
            let contents =
                IpcContents::open(IpcSource::Memory(Buffer::from_vec(bytes)), None).unwrap();
            assert_eq!(contents.read_all().unwrap(), input);
        }
    }
}

#[test]
fn every_truncation_is_reported_as_corrupt() {
    let (schema, input) = batches(&[300, 300]);
    for compression in [Compression::Zstd, Compression::None] {
        let mut options = EncodeOptions::new(compression);
        options.chunk_rows = Some(300);
        let bytes = encode(&input, schema.clone(), &options);
        for cut in 0..bytes.len() {
            let buffer = Buffer::from_vec(bytes[..cut].to_vec());
            let result =
                IpcContents::open(IpcSource::Memory(buffer), None).and_then(|c| c.read_all());
            match result {
                Err(FastIoError::Corrupt(_)) => {}
                // A cut inside the trailing footer of a file can leave a valid *stream* prefix
                // only if the stream decoder accepts it; that never holds for a cut file.
                other => panic!(
                    "{compression:?} cut at {cut}: expected Corrupt, got {:?}",
                    other.map(|b| b.len())
                ),
            }
        }
    }
}

#[test]
fn unchanged_dictionaries_are_written_once_and_changed_ones_are_refused() {
    let schema = dictionary_batch(&[]).schema();
    let first = dictionary_batch(&["a", "b", "a"]);
    let same = dictionary_batch(&["a", "b", "b"]);
    let mut options = EncodeOptions::new(Compression::Zstd);
    options.chunk_rows = Some(3);
    let bytes = encode(&[first.clone(), same.clone()], schema.clone(), &options);
    assert_eq!(read_with_arrow(&bytes), vec![first.clone(), same]);

    let changed = dictionary_batch(&["c", "a", "c"]);
    let mut encoder = IpcFileEncoder::try_new(Vec::new(), schema, &options).unwrap();
    encoder.write(&first).unwrap();
    let error = encoder
        .write(&changed)
        .and_then(|_| encoder.finish().map(|_| ()))
        .unwrap_err();
    assert!(
        matches!(error, FastIoError::InvalidArgument(ref m) if m.contains("unify_dictionaries")),
        "{error}"
    );
}

#[test]
fn a_mismatched_batch_schema_is_refused() {
    let (schema, _) = batches(&[1]);
    let mut encoder =
        IpcFileEncoder::try_new(Vec::new(), schema, &EncodeOptions::default()).unwrap();
    let other = RecordBatch::try_from_iter(vec![(
        "id",
        Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
    )])
    .unwrap();
    assert!(matches!(
        encoder.write(&other),
        Err(FastIoError::InvalidArgument(_))
    ));
}

#[test]
fn uncompressed_files_decode_without_copying_from_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.arrow");
    let (schema, input) = batches(&[40_000]);
    let mut encoder = IpcFileEncoder::try_new(
        AtomicFile::create(&path, false).unwrap(),
        schema,
        &EncodeOptions::new(Compression::None),
    )
    .unwrap();
    encoder.write(&input[0]).unwrap();
    let (file, stats) = encoder.finish().unwrap();
    file.commit().unwrap();
    assert_eq!(stats.stored_bytes, std::fs::metadata(&path).unwrap().len());
    assert_eq!(stats.rows, 40_000);

    let mapping = map_file(&path).unwrap();
    let range = mapping.as_ptr() as usize..mapping.as_ptr() as usize + mapping.len();
    let contents = IpcContents::open(IpcSource::Memory(mapping.clone()), None).unwrap();
    let decoded = contents.read_all().unwrap();
    let ids = decoded[0].column(0).to_data();
    let address = ids.buffers()[0].as_ptr() as usize;
    assert!(
        range.contains(&address),
        "the id column was copied out of the mapping"
    );
    assert_eq!(decoded, input);
}

#[test]
fn every_flipped_byte_is_an_error_or_data_never_an_abort() {
    let (schema, input) = batches(&[50]);
    for compression in [Compression::Zstd, Compression::Lz4Frame, Compression::None] {
        let bytes = encode(&input, schema.clone(), &EncodeOptions::new(compression));
        for position in 0..bytes.len() {
            for bit in [0x02u8, 0x40] {
                let mut damaged = bytes.clone();
                damaged[position] ^= bit;
                // Either outcome is fine; reaching the next iteration is the assertion, since a
                // bad length prefix used to abort the whole process in the allocator.
                let _ = decode_all(damaged);
            }
        }
    }
}

#[test]
fn a_damaged_length_prefix_is_corrupt_not_a_huge_allocation() {
    let (schema, input) = batches(&[1000]);
    for compression in [Compression::Zstd, Compression::Lz4Frame] {
        let bytes = encode(&input, schema.clone(), &EncodeOptions::new(compression));
        // Locate the first compressed buffer of the first batch through the footer.
        let (body_start, buffers) = batch_buffers(&bytes, 0);
        let buffer = buffers.iter().find(|b| b.length() > 8).unwrap();
        let prefix = body_start + buffer.offset() as usize;
        for claim in [12_i64 << 30, 1 << 40, i64::MAX, -2] {
            let mut damaged = bytes.clone();
            damaged[prefix..prefix + 8].copy_from_slice(&claim.to_le_bytes());
            let result = decode_all(damaged);
            assert!(
                matches!(result, Err(FastIoError::Corrupt(_))),
                "{compression:?} claiming {claim}: {:?}",
                result.map(|b| b.len())
            );
        }
    }
}

#[test]
fn a_failed_write_refuses_to_finish() {
    let (schema, input) = batches(&[5000]);
    let mut options = EncodeOptions::new(Compression::Zstd);
    options.chunk_rows = Some(1000);
    let mut encoder = IpcFileEncoder::try_new(Vec::new(), schema, &options).unwrap();
    let failing = vec![
        Ok(input[0].clone()),
        Err(arrow_schema::ArrowError::ComputeError(
            "source broke".into(),
        )),
    ];
    assert!(encoder.write_all(failing.into_iter()).is_err());
    assert!(encoder.failed());
    assert!(encoder.write(&input[0]).is_err());
    let error = encoder.finish().expect_err("finish must refuse");
    assert!(error.to_string().contains("source broke"), "{error}");
}

#[test]
fn streams_with_dictionaries_decode_whether_or_not_they_replace_them() {
    let schema = dictionary_batch(&[]).schema();
    let first = dictionary_batch(&["a", "b", "a"]);
    let same = dictionary_batch(&["a", "b", "b"]);
    let replaced = dictionary_batch(&["c", "d"]);
    for input in [vec![first.clone(), same], vec![first, replaced]] {
        let options = IpcWriteOptions::default()
            .try_with_compression(Some(CompressionType::ZSTD))
            .unwrap();
        let mut stream = Vec::new();
        let mut writer = StreamWriter::try_new_with_options(&mut stream, &schema, options).unwrap();
        for batch in &input {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
        let contents =
            IpcContents::open(IpcSource::Memory(Buffer::from_vec(stream)), None).unwrap();
        let output = contents.read_all().unwrap();
        let as_strings = |batches: &[RecordBatch]| -> Vec<String> {
            batches
                .iter()
                .flat_map(|batch| dictionary_strings(batch.column(0)))
                .collect()
        };
        assert_eq!(as_strings(&output), as_strings(&input));
    }
}

fn dictionary_strings(column: &ArrayRef) -> Vec<String> {
    use arrow_array::cast::AsArray;
    let dictionary = column.as_dictionary::<Int32Type>();
    let values = dictionary.values().as_string::<i32>();
    dictionary
        .keys()
        .iter()
        .map(|key| values.value(key.unwrap() as usize).to_string())
        .collect()
}

/// One string dictionary column named "category", with the dictionary its values build.
fn dictionary_batch(values: &[&str]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "category",
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        true,
    )]));
    let mut builder = StringDictionaryBuilder::<Int32Type>::new();
    for value in values {
        builder.append_value(value);
    }
    RecordBatch::try_new(schema, vec![Arc::new(builder.finish()) as ArrayRef]).unwrap()
}

/// The body offset and buffers of batch `index` of an IPC file, from its footer.
fn batch_buffers(bytes: &[u8], index: usize) -> (usize, Vec<arrow_ipc::Buffer>) {
    let len = bytes.len();
    let footer_len = i32::from_le_bytes(bytes[len - 10..len - 6].try_into().unwrap()) as usize;
    let footer = arrow_ipc::root_as_footer(&bytes[len - 10 - footer_len..len - 10]).unwrap();
    let block = footer.recordBatches().unwrap().get(index);
    let metadata_start = block.offset() as usize;
    let body_start = metadata_start + block.metaDataLength() as usize;
    let message = arrow_ipc::root_as_message(&bytes[metadata_start + 8..body_start]).unwrap();
    let buffers = message.header_as_record_batch().unwrap().buffers().unwrap();
    (body_start, buffers.iter().copied().collect())
}

/// Pseudo-random 64-bit values, which no codec shrinks.
fn noise(rows: usize) -> ArrayRef {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    Arc::new(Int64Array::from_iter_values((0..rows).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as i64
    })))
}

#[test]
fn buffers_that_do_not_shrink_are_stored_raw_and_read_by_arrow_rs() {
    let rows = 50_000;
    let batch = RecordBatch::try_from_iter(vec![
        ("noise", noise(rows)),
        (
            "small",
            Arc::new(Int64Array::from_iter_values(
                (0..rows as i64).map(|i| i % 3),
            )) as ArrayRef,
        ),
    ])
    .unwrap();
    for compression in [Compression::Zstd, Compression::Lz4Frame] {
        let bytes = encode(
            std::slice::from_ref(&batch),
            batch.schema(),
            &EncodeOptions::new(compression),
        );
        let (body, buffers) = batch_buffers(&bytes, 0);
        let prefixes: Vec<i64> = buffers
            .iter()
            .filter(|b| b.length() > 0)
            .map(|b| {
                let at = body + b.offset() as usize;
                i64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
            })
            .collect();
        assert_eq!(prefixes[0], -1, "{compression:?}: the noise is stored raw");
        assert_eq!(
            prefixes[1],
            rows as i64 * 8,
            "{compression:?}: the rest compressed"
        );
        assert!(
            bytes.len() < rows * 8 * 2,
            "{compression:?}: {} bytes",
            bytes.len()
        );
        assert_eq!(read_with_arrow(&bytes), vec![batch.clone()]);
        let contents = IpcContents::open(IpcSource::Memory(Buffer::from_vec(bytes)), None).unwrap();
        assert_eq!(contents.read_all().unwrap(), vec![batch.clone()]);
    }
}

#[test]
fn lz4_frames_use_small_blocks_that_decode_in_place() {
    // 64 KiB blocks (frame descriptor byte BD = 0x40), as pyarrow writes them: liblz4 decodes
    // those straight into the destination, where 4 MiB blocks need a copy through its own buffer.
    let (schema, input) = batches(&[100_000]);
    let bytes = encode(&input, schema, &EncodeOptions::new(Compression::Lz4Frame));
    let (body, buffers) = batch_buffers(&bytes, 0);
    let frames: Vec<&[u8]> = buffers
        .iter()
        .filter(|b| b.length() > 8)
        .map(|b| &bytes[body + b.offset() as usize + 8..])
        .filter(|frame| frame[..4] == [0x04, 0x22, 0x4d, 0x18])
        .collect();
    assert!(frames.len() >= 3);
    assert!(
        frames.iter().all(|frame| frame[5] == 0x40),
        "block size of 64 KiB"
    );
}

#[test]
fn every_damaged_length_prefix_is_corrupt_or_valid_data() {
    let (schema, input) = batches(&[3000]);
    for compression in [Compression::Zstd, Compression::Lz4Frame] {
        let bytes = encode(&input, schema.clone(), &EncodeOptions::new(compression));
        let (body, buffers) = batch_buffers(&bytes, 0);
        for buffer in buffers.iter().filter(|b| b.length() >= 8) {
            let at = body + buffer.offset() as usize;
            let declared = i64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
            for claim in [
                0,
                -1,
                -7,
                1,
                declared - 1,
                declared + 1,
                declared * 2,
                1 << 22,
            ] {
                let mut damaged = bytes.clone();
                damaged[at..at + 8].copy_from_slice(&claim.to_le_bytes());
                let result = decode_all(damaged);
                match result {
                    Err(FastIoError::Corrupt(_)) => {}
                    Ok(batches) => {
                        for batch in batches {
                            for column in batch.columns() {
                                column.to_data().validate_full().unwrap();
                            }
                        }
                    }
                    Err(other) => panic!("{compression:?} claim {claim}: {other}"),
                }
            }
            // The frame itself cut short or overwritten.
            let mut damaged = bytes.clone();
            let end = at + buffer.length() as usize;
            damaged[at + 8..end].iter_mut().for_each(|b| *b = !*b);
            let result = decode_all(damaged);
            assert!(
                matches!(result, Err(FastIoError::Corrupt(_))),
                "{compression:?}: {:?}",
                result.map(|b| b.len())
            );
        }
    }
}

#[test]
fn decoder_matches_arrow_rs_on_compressed_view_types() {
    use arrow_array::{BinaryViewArray, StringViewArray};
    let rows = 20_000;
    let strings: ArrayRef = Arc::new(StringViewArray::from_iter((0..rows).map(|i| {
        (i % 11 != 0).then(|| format!("a string long enough to live in a data buffer {i}"))
    })));
    let binaries: ArrayRef = Arc::new(BinaryViewArray::from_iter_values(
        (0..rows).map(|i| vec![(i % 251) as u8; i % 40]),
    ));
    let batch = RecordBatch::try_from_iter(vec![("s", strings), ("b", binaries)]).unwrap();
    for compression in [CompressionType::ZSTD, CompressionType::LZ4_FRAME] {
        let options = IpcWriteOptions::default()
            .try_with_compression(Some(compression))
            .unwrap();
        let mut file = Vec::new();
        let mut writer =
            FileWriter::try_new_with_options(&mut file, &batch.schema(), options).unwrap();
        writer.write(&batch).unwrap();
        writer.write(&batch.slice(100, 5000)).unwrap();
        writer.finish().unwrap();
        let reference = read_with_arrow(&file);
        let contents = IpcContents::open(IpcSource::Memory(Buffer::from_vec(file)), None).unwrap();
        assert_eq!(contents.read_all().unwrap(), reference, "{compression:?}");
    }
}
