//! Where an MLP epoch goes: the same batches through a bare autodiff + Adam loop, without the
//! Learner, split into forward, backward and optimizer time.
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::optim::GradientsParams;
use mnist_data::MnistLoader;
use mnist_models::{Model, loss_and_logits};
use mnist_trainer::plan::{Plan, Trainer};

fn main() {
    // The course MLP as configs/mlp.toml describes it, on the default backend.
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/mlp.toml");
    let plan = Plan::load(&config).unwrap();
    let Trainer::Learner { model, optimizer } = *plan.trainer() else {
        panic!("{} trains with the Learner", config.display());
    };
    let backend = mnist_trainer::backend::default_backend();
    let ad = backend.device.clone().autodiff();
    let data = mnist_data::load(Some(plan.data())).unwrap();
    let loader =
        MnistLoader::new(Arc::new(data.train), plan.batch_size(), &ad).shuffle(plan.seed());
    let mut model = Model::new(&model, plan.seed(), &ad);
    let mut optim = optimizer.init(&backend);
    for epoch in 0..2 {
        let (mut t_batch, mut t_fwd, mut t_bwd, mut t_opt, mut t_read) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let start = Instant::now();
        let mut it = loader.iter();
        loop {
            let t = Instant::now();
            let Some(batch) = it.next() else { break };
            let batch = batch.unwrap();
            t_batch += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let (loss, logits) = loss_and_logits(&model, &batch);
            t_fwd += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            t_bwd += t.elapsed().as_secs_f64();
            let t = Instant::now();
            model = optim.step(optimizer.lr(), model, grads);
            t_opt += t.elapsed().as_secs_f64();
            let t = Instant::now();
            if std::env::var("READ").is_ok() {
                let _l = loss.into_scalar::<f32>();
                let _a = logits
                    .argmax(1)
                    .flatten::<1>(0, 1)
                    .equal(batch.targets)
                    .int()
                    .sum()
                    .into_scalar::<i64>();
            }
            t_read += t.elapsed().as_secs_f64();
        }
        println!(
            "epoch {epoch}: {:.2} s  (batch {t_batch:.2}, forward {t_fwd:.2}, backward {t_bwd:.2}, optimizer {t_opt:.2}, metric reads {t_read:.2})",
            start.elapsed().as_secs_f64()
        );
    }
}
