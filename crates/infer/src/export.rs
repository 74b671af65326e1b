//! `mnist export`: a run's model as ONNX, for runtimes that are not burn (onnxruntime, a browser,
//! another language).
//!
//! burn-onnx's exporter (experimental in 0.22) traces the model's own `forward` on a capture
//! device, twice, at batch sizes 2 and 5, and marks the axis that differs as the symbolic
//! `batch`. The file holds one input of f32 pixels scaled to [0, 1] (white ink on black, as the
//! data): `[batch, 784]` (row-major 28×28) for the linear model and the MLP, `[batch, 1, 28, 28]`
//! for the CNN, the layout CNN runtimes expect. (The exporter cannot carry a dynamic batch through
//! the reshape from rows to images, nor through row slices, so the CNN's file starts at the
//! image.) One output, `[batch, 10]` logits: softmax is the consumer's, as it is the loss's here.
//! The weights are embedded. Normalisation, where a CNN's config asks for it, is inside the file.

use std::path::PathBuf;

use burn::prelude::*;
use burn_onnx::export::{AxisSpec, InputSpec, OnnxExporter};
use mnist_data::{IMAGE_PIXELS, IMAGE_SIDE};
use mnist_models::{Cnn, Mlp, Model};

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
    /// `linear`, `mlp` or `cnn`.
    pub model: &'static str,
    /// The input's shape: `[batch, 784]` or `[batch, 1, 28, 28]`.
    pub input: &'static str,
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
        input: input_shape(&model),
    })
}

/// The input shape the exported file declares for `model`.
pub fn input_shape(model: &Model) -> &'static str {
    match model {
        Model::Cnn(_) => "[batch, 1, 28, 28]",
        Model::Linear(_) | Model::Mlp(_) => "[batch, 784]",
    }
}

/// The ONNX bytes of `model`, with a dynamic batch axis.
pub fn to_onnx(model: &Model, device: &Device) -> Result<Vec<u8>, Error> {
    let failed = |e| Error::Check(format!("the model could not be exported to ONNX: {e}"));
    let exporter = OnnxExporter::new();
    let onnx = match model {
        Model::Cnn(cnn) => {
            let image = |n| Tensor::<4>::zeros([n, 1, IMAGE_SIDE, IMAGE_SIDE], device);
            let specs = [InputSpec::new([
                AxisSpec::dynamic("batch"),
                AxisSpec::Static,
                AxisSpec::Static,
                AxisSpec::Static,
            ])];
            exporter.export_dynamic(cnn, image(2), image(5), &specs, Cnn::forward_layers)
        }
        _ => {
            let rows = |n| Tensor::<2>::zeros([n, IMAGE_PIXELS], device);
            let specs = [InputSpec::new([
                AxisSpec::dynamic("batch"),
                AxisSpec::Static,
            ])];
            match model {
                // burn's `Linear` for the hidden layer: the split product records its sizes.
                Model::Mlp(mlp) => {
                    exporter.export_dynamic(mlp, rows(2), rows(5), &specs, Mlp::forward_layers)
                }
                _ => exporter.export_dynamic(model, rows(2), rows(5), &specs, Model::forward),
            }
        }
    };
    onnx.map(|onnx| onnx.into_bytes()).map_err(failed)
}
