//! Python bindings of dagster-fastio: type conversion, GIL release and error mapping only.
//! One module per operation, each converting its own arguments once; they use only what
//! `fastio_core` re-exports at its root.

mod args;
mod blob;
mod describe;
mod encode;
mod errors;
mod fill;
mod hash;
mod objects;
mod partitions;
mod read;
mod write;
mod write_options;
mod writer;

use pyo3::prelude::*;

// The encoder allocates and frees a few multi-megabyte buffers per batch from several threads;
// mimalloc makes 500 MB zstd and lz4 writes about 10% faster than glibc's malloc here
// (benches/bench_core.py, both builds measured on the same machine). Only this library's own
// allocations use it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule(gil_used = false)]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    // Every panic in the core is caught and raised as an exception that carries its message;
    // printing it to stderr as well filled logs with noise for each damaged input. Set
    // FASTIO_PANIC_MESSAGES to see them where they happen.
    std::panic::set_hook(Box::new(|info| {
        if std::env::var_os("FASTIO_PANIC_MESSAGES").is_some() {
            eprintln!("{info}");
        }
    }));
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let compressions = fastio_core::Compression::ALL.map(fastio_core::Compression::name);
    module.add("COMPRESSIONS", compressions.to_vec())?;
    module.add_class::<write::WriteStats>()?;
    module.add_class::<writer::TableFileWriter>()?;
    module.add_function(wrap_pyfunction!(blob::write_zstd_file, module)?)?;
    module.add_function(wrap_pyfunction!(blob::read_zstd_file, module)?)?;
    module.add_function(wrap_pyfunction!(encode::encode, module)?)?;
    module.add_function(wrap_pyfunction!(write::write_file, module)?)?;
    module.add_function(wrap_pyfunction!(partitions::write_partitions, module)?)?;
    module.add_function(wrap_pyfunction!(encode::decode, module)?)?;
    module.add_function(wrap_pyfunction!(read::read_file, module)?)?;
    module.add_function(wrap_pyfunction!(read::read_file_batches, module)?)?;
    module.add_function(wrap_pyfunction!(fill::fill_columns, module)?)?;
    module.add_function(wrap_pyfunction!(describe::describe, module)?)?;
    module.add_function(wrap_pyfunction!(describe::read_footer, module)?)?;
    module.add_function(wrap_pyfunction!(hash::content_hash, module)?)?;
    module.add_function(wrap_pyfunction!(objects::object_exists, module)?)?;
    module.add_function(wrap_pyfunction!(objects::delete_object, module)?)?;
    module.add_function(wrap_pyfunction!(objects::delete_objects, module)?)?;
    module.add_function(wrap_pyfunction!(objects::object_size, module)?)?;
    module.add_function(wrap_pyfunction!(objects::list_objects, module)?)?;
    module.add_function(wrap_pyfunction!(blob::read_object, module)?)?;
    Ok(())
}
