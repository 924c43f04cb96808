//! A record batch's flatbuffer table written again with its buffers in new places: what both
//! directions of our codec path need, since compressing or decompressing moves every buffer
//! but leaves the nodes, the row count and the variadic buffer counts as they were.

use arrow_ipc::{BodyCompressionBuilder, BodyCompressionMethod, CompressionType, FieldNode};
use flatbuffers::{FlatBufferBuilder, WIPOffset};

/// Adds to `fbb` a copy of `batch` whose buffers are `buffers`, compressed with `codec` (or
/// not compressed at all).
pub(crate) fn rebuild<'fbb>(
    fbb: &mut FlatBufferBuilder<'fbb>,
    batch: &arrow_ipc::RecordBatch<'_>,
    buffers: &[arrow_ipc::Buffer],
    codec: Option<CompressionType>,
) -> WIPOffset<arrow_ipc::RecordBatch<'fbb>> {
    let nodes: Vec<FieldNode> = batch.nodes().into_iter().flatten().copied().collect();
    let nodes = fbb.create_vector(&nodes);
    let buffers = fbb.create_vector(buffers);
    let variadic = batch
        .variadicBufferCounts()
        .map(|counts| fbb.create_vector(&counts.iter().collect::<Vec<i64>>()));
    let compression = codec.map(|codec| {
        let mut builder = BodyCompressionBuilder::new(fbb);
        builder.add_codec(codec);
        builder.add_method(BodyCompressionMethod::BUFFER);
        builder.finish()
    });
    let mut header = arrow_ipc::RecordBatchBuilder::new(fbb);
    header.add_length(batch.length());
    header.add_nodes(nodes);
    header.add_buffers(buffers);
    if let Some(compression) = compression {
        header.add_compression(compression);
    }
    if let Some(variadic) = variadic {
        header.add_variadicBufferCounts(variadic);
    }
    header.finish()
}
