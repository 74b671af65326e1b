//! `mnist export`: a run's model as ONNX, for runtimes that are not burn (onnxruntime, a browser,
//! another language).
//!
//! burn-onnx's exporter (experimental in 0.22) traces the model's own `forward` on a capture
//! device, twice, at batch sizes 2 and 5, and marks the axis that differs as the symbolic
//! `batch`. The file holds one input, `[batch, 784]` f32 pixels scaled to [0, 1] (row-major
//! 28×28, white ink on black, as the data), and one output, `[batch, 10]` logits: softmax is the
//! consumer's, as it is the loss's here. The weights are embedded.

use std::path::PathBuf;

use burn::prelude::*;
use burn_onnx::export::{AxisSpec, InputSpec, OnnxExporter};
use mnist_data::IMAGE_PIXELS;
use mnist_models::Model;

use mnist_trainer::Error;
use mnist_trainer::backend::Backend;
use mnist_trainer::run::dir::{RunDir, Weights};
use mnist_trainer::run::fsutil::atomic_write;

/// What to export.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    /// The run directory.
    pub run: PathBuf,
    /// The final weights or an epoch's checkpoint.
    pub weights: Weights,
    /// Where to write; default `model.onnx` in the run directory.
    pub out: Option<PathBuf>,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct Exported {
    pub path: PathBuf,
    pub bytes: usize,
    /// `mlp` or `linear`.
    pub model: &'static str,
}

/// Exports the run's weights; errors name the file and leave no partial file behind.
pub fn export(request: &ExportRequest, backend: &Backend) -> Result<Exported, Error> {
    let run = RunDir::new(&request.run);
    let (plan, model) = crate::model::open(&run, request.weights, &backend.device)?;
    let bytes = to_onnx(&model, &backend.device)?;
    let path = request.out.clone().unwrap_or_else(|| run.onnx_file());
    atomic_write(&path, &bytes)?;
    Ok(Exported {
        path,
        bytes: bytes.len(),
        model: plan.model().kind(),
    })
}

/// The ONNX bytes of `model`, with a dynamic batch axis.
pub fn to_onnx(model: &Model, device: &Device) -> Result<Vec<u8>, Error> {
    // Two traces whose only difference is the batch: that axis becomes symbolic.
    let sample = Tensor::<2>::zeros([2, IMAGE_PIXELS], device);
    let validation = Tensor::<2>::zeros([5, IMAGE_PIXELS], device);
    let specs = [InputSpec::new([
        AxisSpec::dynamic("batch"),
        AxisSpec::Static,
    ])];
    OnnxExporter::new()
        .export_dynamic(model, sample, validation, &specs, Model::forward)
        .map(|onnx| onnx.into_bytes())
        .map_err(|e| Error::Check(format!("the model could not be exported to ONNX: {e}")))
}
