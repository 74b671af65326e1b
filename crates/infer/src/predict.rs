//! Prediction: a run's model on prepared 28×28 images, the top three classes and all ten
//! probabilities of each.

use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use image::GrayImage;
use mnist_data::{IMAGE_SIDE, MnistBatch};
use mnist_trainer::Error;
use mnist_trainer::backend::Backend;
use mnist_trainer::run::dir::{RunDir, Weights};
use serde::{Serialize, Serializer};

use crate::explain::{Explanation, explain};
use crate::prepare::{decode, for_model, open};

/// One image's result.
#[derive(Clone, Debug)]
pub struct Prediction {
    pub file: PathBuf,
    /// The three most probable classes, most probable first.
    pub top: Vec<(u8, f32)>,
    /// All ten probabilities.
    pub probabilities: Vec<f32>,
    /// The 28×28 image the model saw, ink bright on dark (like MNIST).
    pub prepared: Vec<u8>,
    /// Why the model answered so, where asked for.
    pub explanation: Option<Explanation>,
}

/// What `mnist predict` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct PredictRequest {
    pub run: PathBuf,
    pub images: Vec<PathBuf>,
    pub weights: Weights,
    pub raw: bool,
    pub save_prepared: Option<PathBuf>,
    /// Explain each answer ([`crate::explain`]).
    pub explain: bool,
}

/// The one JSON shape of a prediction, `mnist predict --json`'s and the web app's predict API's:
/// the file, the top class, the 28×28 image the model saw (784 pixels, row by row), all ten
/// probabilities and the top 3, then the explanation where there is one. Keys in this order and
/// probabilities widened to f64, as the format has always been written.
impl Serialize for Prediction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Class {
            class: u8,
            probability: f64,
        }
        #[derive(Serialize)]
        struct View<'a> {
            file: String,
            prediction: u8,
            prepared: &'a [u8],
            probabilities: Vec<f64>,
            top: Vec<Class>,
            #[serde(skip_serializing_if = "Option::is_none")]
            explanation: Option<&'a Explanation>,
        }
        View {
            file: self.file.display().to_string(),
            prediction: self.top[0].0,
            prepared: &self.prepared,
            probabilities: self.probabilities.iter().map(|&p| f64::from(p)).collect(),
            top: self
                .top
                .iter()
                .map(|&(class, p)| Class {
                    class,
                    probability: f64::from(p),
                })
                .collect(),
            explanation: self.explanation.as_ref(),
        }
        .serialize(serializer)
    }
}

/// The 10 probabilities of each prepared image, in one batch.
pub fn probabilities(
    model: &mnist_models::Model,
    images: &[Vec<u8>],
    device: &Device,
) -> Vec<Vec<f32>> {
    if images.is_empty() {
        return Vec::new();
    }
    // Labels are unknown here; the batch needs some, and the forward pass ignores them.
    let labels = std::iter::repeat_n(0u8, images.len());
    let batch = MnistBatch::from_pixels(images.iter().map(|i| &i[..]), labels, device);
    let probs = softmax(model.forward(batch.images), 1); // [n, 10]
    mnist_models::host_values(probs)
        .chunks(mnist_data::NUM_CLASSES)
        .map(<[f32]>::to_vec)
        .collect()
}

/// Prepares and predicts every image; a bad image gets its own error and does not stop the rest.
pub fn predict(
    request: &PredictRequest,
    backend: &Backend,
) -> Result<Vec<Result<Prediction, Error>>, Error> {
    let (_, model) =
        crate::model::open(&RunDir::new(&request.run), request.weights, &backend.device)?;
    if let Some(dir) = &request.save_prepared {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create", e))?;
    }
    let prepared: Vec<Result<Vec<u8>, Error>> = request
        .images
        .iter()
        .map(|path| {
            let img = open(path).map_err(|why| Error::run(path, why))?;
            for_model(&img, request.raw).map_err(|why| Error::run(path, why))
        })
        .collect();
    let good: Vec<Vec<u8>> = prepared
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let mut probs = probabilities(&model, &good, &backend.device).into_iter();
    let mut out = Vec::new();
    for (path, prep) in request.images.iter().zip(prepared) {
        out.push(prep.and_then(|pixels| {
            let p = probs.next().expect("one row per prepared image");
            if let Some(dir) = &request.save_prepared {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let target = dir.join(format!("{name}.28x28.png"));
                GrayImage::from_raw(IMAGE_SIDE as u32, IMAGE_SIDE as u32, pixels.clone())
                    .expect("784 pixels")
                    .save(&target)
                    .map_err(|e| Error::run(&target, format!("cannot write: {e}")))?;
            }
            let mut prediction = Prediction::new(path.clone(), p, pixels);
            if request.explain {
                prediction.explain(&model, &backend.device);
            }
            Ok(prediction)
        }));
    }
    Ok(out)
}

/// Prepares one image given as bytes (`raw`: already 28×28) and predicts it; `name` is what the
/// result calls it.
pub fn predict_bytes(
    model: &mnist_models::Model,
    name: &str,
    bytes: &[u8],
    raw: bool,
    device: &Device,
) -> Result<Prediction, String> {
    let img = decode(bytes)?;
    Ok(predict_pixels(model, name, for_model(&img, raw)?, device))
}

/// Predicts a prepared 28×28 image (784 pixels, ink bright on dark).
pub fn predict_pixels(
    model: &mnist_models::Model,
    name: &str,
    pixels: Vec<u8>,
    device: &Device,
) -> Prediction {
    let p = probabilities(model, std::slice::from_ref(&pixels), device)
        .pop()
        .expect("one row for one image");
    Prediction::new(PathBuf::from(name), p, pixels)
}

impl Prediction {
    /// Adds the explanation of this answer by `model` (the one that made it).
    pub fn explain(&mut self, model: &mnist_models::Model, device: &Device) {
        self.explanation = Some(explain(model, &self.prepared, device));
    }

    fn new(file: PathBuf, probabilities: Vec<f32>, prepared: Vec<u8>) -> Self {
        let mut order: Vec<usize> = (0..probabilities.len()).collect();
        order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        Self {
            file,
            top: order
                .iter()
                .take(3)
                .map(|&c| (c as u8, probabilities[c]))
                .collect(),
            probabilities,
            prepared,
            explanation: None,
        }
    }
}
