//! A convolution (stride 1, no dilation, one group, with a bias), and a convolution with its
//! max-pool, as one operation each way on Flex, through burn's backend extension, with their own
//! backward passes under autodiff.
//!
//! burn's `Conv2d` on Flex computes the forward pass as an im2col product, but its two
//! gradients come from burn's generic formulas: the weight gradient as a convolution with the
//! batch as channels and the output as the kernel, the input gradient as a transposed
//! convolution. For the course CNN (batch 64; its second layer 32 → 64 channels, 3×3 over 26×26)
//! that made a training step 93 ms, 38 forward and 53 backward (`examples/step_profile`), where
//! its products are 4.6 GFLOP, about 23 ms at the GEMM rate `mnist bench` measures.
//!
//! Here each image `b` is one product each way, every one a single `gemm` call on one thread,
//! the batch split across the pool's threads:
//! - forward: `y_b [O, P] = W [O, K] · cols_b [K, P] + bias`, where `cols_b` is the image's
//!   windows (im2col: row `(c, i, j)`, column `(oy, ox)`, `K = C·kh·kw`, `P = oh·ow`), and `y_b`
//!   is the image's slice of the NCHW output, written in place;
//! - weight gradient: `dWᵀ [K, O] += cols_b [K, P] · dy_bᵀ [P, O]` (the windows rebuilt, not
//!   kept: 42 MB a batch at the course's shapes), `db += Σ_p dy_b`;
//! - input gradient: `dcols_b [K, P] = Wᵀ [K, O] · dy_b [O, P]`, each window's column added
//!   back where it was read from (col2im).
//!
//! With a max-pool after it ([`forward_max_pooled`]), each image's `y_b` is pooled while it is in
//! cache, and backward the pool's gradient is put back into that image's `dy_b` (a scratch
//! buffer), so neither the convolution's output nor its gradient is ever made whole.
//!
//! Only f32 on Flex ([`takes`]); the caller pads. Elsewhere burn's `Conv2d` runs.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Autodiff, AutodiffBackend, Backend, Dispatch, Flex, backend_extension};
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::fused::runs_on;

/// A valid convolution with a bias, and its two gradients.
#[backend_extension(Flex, Autodiff)]
pub trait FusedConv2d: Backend {
    /// `conv(x, weight) + bias`: `[B, O, H−kh+1, W−kw+1]` of `x` `[B, C, H, W]`,
    /// `weight` `[O, C, kh, kw]` and `bias` `[O]`.
    fn conv_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The weight's and the bias's gradients `([O, C, kh, kw], [O])`, of the input `x` and the
    /// output's gradient `grad` `[B, O, oh, ow]`.
    fn conv_weight_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: [usize; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The input's gradient `[B, C, oh+kh−1, ow+kw−1]`, of `weight` and the output's gradient.
    fn conv_input_backward(weight: FloatTensor<Self>, grad: FloatTensor<Self>)
    -> FloatTensor<Self>;

    /// [`Self::conv_forward`] max-pooled over `pool × pool` windows at stride `pool`
    /// (`[B, O, oh / pool, ow / pool]`), each image's convolution pooled as soon as it is
    /// computed, so the convolution's whole output is never made; and where each window's
    /// largest value lies in its plane of that output (i32, from [`crate::pool::pool_plane`]).
    fn conv_max_pool_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pool: usize,
    ) -> (FloatTensor<Self>, IntTensor<Self>);

    /// [`Self::conv_weight_backward`] of a max-pooled convolution, from the pool's gradient
    /// `grad` `[B, O, ph, pw]` and the positions of [`Self::conv_max_pool_forward`].
    fn conv_pooled_weight_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        positions: IntTensor<Self>,
        kernel: [usize; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// [`Self::conv_input_backward`] of a max-pooled convolution whose output (before the
    /// pool) is `output` = `[oh, ow]`.
    fn conv_pooled_input_backward(
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        positions: IntTensor<Self>,
        output: [usize; 2],
    ) -> FloatTensor<Self>;
}

/// Whether [`forward`] computes `conv` of `x`: on Flex, f32, stride 1, no dilation, one group
/// and a bias (every convolution a config describes; padding is the caller's).
pub fn takes(conv: &Conv2d, x: &Tensor<4>) -> bool {
    runs_on(&x.device())
        && x.dtype() == DType::F32
        && conv.weight.val().dtype() == DType::F32
        && conv.bias.is_some()
        && conv.stride == [1, 1]
        && conv.dilation == [1, 1]
        && conv.groups == 1
}

/// `conv`'s valid convolution of `x` `[B, C, H, W]` (already padded) as one operation; only
/// where [`takes`] it.
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let bias = conv.bias.as_ref().expect("a bias (`takes`)").val();
    Tensor::from_dispatch(<Dispatch as FusedConv2d>::conv_forward(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// [`forward`] max-pooled over `pool × pool` windows at stride `pool`, in one pass that never
/// holds the whole convolution's output, forward or backward; only where [`takes`] the
/// convolution and [`crate::pool::takes`] the pool.
pub fn forward_max_pooled(conv: &Conv2d, x: Tensor<4>, pool: usize) -> Tensor<4> {
    let bias = conv.bias.as_ref().expect("a bias (`takes`)").val();
    let (y, _) = <Dispatch as FusedConv2d>::conv_max_pool_forward(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.into_dispatch(),
        pool,
    );
    Tensor::from_dispatch(y)
}

/// The sizes of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    batch: usize,
    /// Input channels, height, width.
    c: usize,
    h: usize,
    w: usize,
    /// Output channels, kernel height and width.
    o: usize,
    kh: usize,
    kw: usize,
}

impl Geometry {
    fn new(x: [usize; 4], o: usize, [kh, kw]: [usize; 2]) -> Self {
        let [batch, c, h, w] = x;
        assert!(
            kh >= 1 && kw >= 1 && kh <= h && kw <= w,
            "a {kh}×{kw} kernel over {h}×{w} images"
        );
        Self {
            batch,
            c,
            h,
            w,
            o,
            kh,
            kw,
        }
    }

    fn oh(&self) -> usize {
        self.h + 1 - self.kh
    }

    fn ow(&self) -> usize {
        self.w + 1 - self.kw
    }

    /// Output pixels of one image (the windows' count).
    fn p(&self) -> usize {
        self.oh() * self.ow()
    }

    /// Values in one window (`C·kh·kw`).
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    fn image(&self) -> usize {
        self.c * self.h * self.w
    }

    fn output(&self) -> usize {
        self.o * self.p()
    }

    /// Images per thread: the batch in as many equal runs as the pool has threads.
    fn images_per_task(&self) -> usize {
        self.batch.div_ceil(rayon::current_num_threads()).max(1)
    }

    /// The windows of one image `[C, H, W]` as `cols` `[K, P]`: row `(c, i, j)`, column
    /// `(oy, ox)` holds `image[c, oy + i, ox + j]`.
    fn im2col(&self, image: &[f32], cols: &mut [f32]) {
        let (oh, ow, p) = (self.oh(), self.ow(), self.p());
        for (row, cols) in cols.chunks_exact_mut(p).enumerate() {
            let (c, i, j) = (
                row / (self.kh * self.kw),
                row / self.kw % self.kh,
                row % self.kw,
            );
            let plane = &image[c * self.h * self.w..][..self.h * self.w];
            for (oy, out) in cols.chunks_exact_mut(ow).take(oh).enumerate() {
                copy_short(out, &plane[(oy + i) * self.w + j..][..ow]);
            }
        }
    }

    /// One image's convolution: `y` `[O, P]` = `w` `[O, K]` · the windows of `x` `[C, H, W]`
    /// (built in `cols` `[K, P]`) + `bias` `[O]`.
    fn convolve_image(&self, x: &[f32], w: Matrix, bias: &[f32], cols: &mut [f32], y: &mut [f32]) {
        self.im2col(x, cols);
        for (row, b) in y.chunks_exact_mut(self.p()).zip(bias) {
            row.fill(*b);
        }
        product(y, w, Matrix::rows(cols, self.k(), self.p()), true);
    }

    /// [`Self::im2col`]'s transpose: every window value of `cols` `[K, P]` added to the image
    /// `[C, H, W]` position it came from.
    fn col2im(&self, cols: &[f32], image: &mut [f32]) {
        let (oh, ow, p) = (self.oh(), self.ow(), self.p());
        for (row, cols) in cols.chunks_exact(p).enumerate() {
            let (c, i, j) = (
                row / (self.kh * self.kw),
                row / self.kw % self.kh,
                row % self.kw,
            );
            let plane = &mut image[c * self.h * self.w..][..self.h * self.w];
            for (oy, from) in cols.chunks_exact(ow).take(oh).enumerate() {
                add(&mut plane[(oy + i) * self.w + j..][..ow], from);
            }
        }
    }
}

/// A row-major or transposed view of a matrix in a slice: element `(r, c)` at
/// `r · row_stride + c · col_stride`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// `data` as `rows × cols`, row by row.
    fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether every element lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst [m, n] = a [m, k] · b [k, n]`, or `dst += a · b` when `accumulate`, row-major `dst`,
/// as one single-threaded `gemm` call (the caller's threads split the batch).
fn product(dst: &mut [f32], a: Matrix, b: Matrix, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner sizes");
    assert_eq!(dst.len(), m * n, "destination size");
    assert!(a.in_bounds() && b.in_bounds(), "views inside their slices");
    // SAFETY: gemm reads `a` and `b` and writes `dst` only at the elements of the views, which
    // the assertions above keep inside the three slices; `dst` is borrowed mutably, so it
    // overlaps neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `t`'s f32 values, row-major, and its shape.
fn f32_values(t: &FlexTensor) -> (FlexTensor, Vec<usize>) {
    let t = t.to_contiguous();
    let shape = t.layout().shape().to_vec();
    (t, shape)
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("f32 (`conv::takes`)")
}

fn dims4(shape: &[usize]) -> [usize; 4] {
    shape.try_into().expect("a 4-dimensional tensor")
}

/// `to.copy_from_slice(from)` for the short rows of [`Geometry::im2col`] (an output row: 24
/// values in the course CNN's second layer, 442 k of them a batch), as inline vector moves of
/// 8 values, the last one overlapping the one before: `copy_from_slice` calls `memmove` for
/// each, which was 8-9% of the convolution's time (`perf`).
fn copy_short(to: &mut [f32], from: &[f32]) {
    const LANES: usize = 8;
    assert_eq!(to.len(), from.len(), "rows of one length");
    let n = to.len();
    if n < LANES {
        to.copy_from_slice(from);
        return;
    }
    let (to_chunks, _) = to.as_chunks_mut::<LANES>();
    let (from_chunks, _) = from.as_chunks::<LANES>();
    for (t, f) in to_chunks.iter_mut().zip(from_chunks) {
        *t = *f;
    }
    let last: &[f32; LANES] = from[n - LANES..].try_into().expect("8 values");
    let end: &mut [f32; LANES] = (&mut to[n - LANES..]).try_into().expect("8 values");
    *end = *last;
}

/// The sum of `values` over 16 running sums, added at the end: one vector of additions a step
/// instead of a chain of 576 dependent ones (`Iterator::sum` keeps the order, so it cannot
/// vectorise; that was 3% of the CNN's step).
fn lane_sum(values: &[f32]) -> f32 {
    let (chunks, rest) = values.as_chunks::<16>();
    let mut lanes = [0f32; 16];
    for chunk in chunks {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l += v;
        }
    }
    lanes.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// `to += from`, element by element.
fn add(to: &mut [f32], from: &[f32]) {
    for (t, f) in to.iter_mut().zip(from) {
        *t += f;
    }
}

fn new_tensor(shape: &[usize]) -> FlexTensor {
    FlexTensor::zeros(shape.to_vec().into(), DType::F32)
}

/// The forward pass's operands as contiguous f32 tensors, with their sizes.
fn forward_operands(
    x: FlexTensor,
    weight: FlexTensor,
    bias: FlexTensor,
) -> (Geometry, FlexTensor, FlexTensor, FlexTensor) {
    let ((x, xs), (weight, ws), (bias, _)) =
        (f32_values(&x), f32_values(&weight), f32_values(&bias));
    let [o, c, kh, kw] = dims4(&ws);
    let g = Geometry::new(dims4(&xs), o, [kh, kw]);
    assert_eq!(c, g.c, "the weight's input channels are the input's");
    (g, x, weight, bias)
}

impl FusedConv2d for Flex {
    fn conv_forward(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let (g, x, weight, bias) = forward_operands(x, weight, bias);
        let (x, bias) = (slice(&x), slice(&bias));
        let w = Matrix::rows(slice(&weight), g.o, g.k());
        let mut y = new_tensor(&[g.batch, g.o, g.oh(), g.ow()]);
        let per = g.images_per_task();
        y.storage_mut::<f32>()
            .par_chunks_mut(per * g.output())
            .zip(x.par_chunks(per * g.image()))
            .for_each(|(ys, xs)| {
                let mut cols = vec![0f32; g.k() * g.p()];
                for (y, x) in ys
                    .chunks_exact_mut(g.output())
                    .zip(xs.chunks_exact(g.image()))
                {
                    g.convolve_image(x, w, bias, &mut cols, y);
                }
            });
        y
    }

    fn conv_max_pool_forward(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        pool: usize,
    ) -> (FlexTensor, FlexTensor) {
        let (g, x, weight, bias) = forward_operands(x, weight, bias);
        let (x, bias) = (slice(&x), slice(&bias));
        let w = Matrix::rows(slice(&weight), g.o, g.k());
        let pooled = (g.oh() / pool) * (g.ow() / pool);
        let shape = [g.batch, g.o, g.oh() / pool, g.ow() / pool];
        let mut y = new_tensor(&shape);
        let mut at = FlexTensor::zeros(shape.to_vec().into(), DType::I32);
        let per = g.images_per_task();
        y.storage_mut::<f32>()
            .par_chunks_mut(per * g.o * pooled)
            .zip(at.storage_mut::<i32>().par_chunks_mut(per * g.o * pooled))
            .zip(x.par_chunks(per * g.image()))
            .for_each(|((ys, ats), xs)| {
                let mut cols = vec![0f32; g.k() * g.p()];
                let mut image = vec![0f32; g.output()];
                let images = ys
                    .chunks_exact_mut(g.o * pooled)
                    .zip(ats.chunks_exact_mut(g.o * pooled));
                for ((y, at), x) in images.zip(xs.chunks_exact(g.image())) {
                    g.convolve_image(x, w, bias, &mut cols, &mut image);
                    let planes = y.chunks_exact_mut(pooled).zip(at.chunks_exact_mut(pooled));
                    for ((y, at), plane) in planes.zip(image.chunks_exact(g.p())) {
                        crate::pool::pool_plane(plane, g.ow(), pool, y, at);
                    }
                }
            });
        (y, at)
    }

    fn conv_weight_backward(
        x: FlexTensor,
        grad: FlexTensor,
        kernel: [usize; 2],
    ) -> (FlexTensor, FlexTensor) {
        let ((x, xs), (grad, gs)) = (f32_values(&x), f32_values(&grad));
        let g = Geometry::new(dims4(&xs), dims4(&gs)[1], kernel);
        assert_eq!(
            dims4(&gs),
            [g.batch, g.o, g.oh(), g.ow()],
            "the output's gradient"
        );
        weight_backward(g, slice(&x), OutputGrad::Dense(slice(&grad)))
    }

    fn conv_pooled_weight_backward(
        x: FlexTensor,
        grad: FlexTensor,
        positions: FlexTensor,
        kernel: [usize; 2],
    ) -> (FlexTensor, FlexTensor) {
        let ((x, xs), (grad, gs)) = (f32_values(&x), f32_values(&grad));
        let positions = positions.to_contiguous();
        let g = Geometry::new(dims4(&xs), dims4(&gs)[1], kernel);
        let dy = OutputGrad::pooled(&g, slice(&grad), &gs, &positions);
        weight_backward(g, slice(&x), dy)
    }

    fn conv_input_backward(weight: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let ((weight, ws), (grad, gs)) = (f32_values(&weight), f32_values(&grad));
        let [_, _, oh, ow] = dims4(&gs);
        let g = input_geometry(&ws, &gs, [oh, ow]);
        input_backward(g, slice(&weight), OutputGrad::Dense(slice(&grad)))
    }

    fn conv_pooled_input_backward(
        weight: FlexTensor,
        grad: FlexTensor,
        positions: FlexTensor,
        output: [usize; 2],
    ) -> FlexTensor {
        let ((weight, ws), (grad, gs)) = (f32_values(&weight), f32_values(&grad));
        let positions = positions.to_contiguous();
        let g = input_geometry(&ws, &gs, output);
        let dy = OutputGrad::pooled(&g, slice(&grad), &gs, &positions);
        input_backward(g, slice(&weight), dy)
    }
}

/// The sizes of the convolution whose weight has shape `ws`, its output's gradient (or its
/// pool's) shape `gs`, and whose output is `[oh, ow]`.
fn input_geometry(ws: &[usize], gs: &[usize], [oh, ow]: [usize; 2]) -> Geometry {
    let [o, c, kh, kw] = dims4(ws);
    let [batch, go, ..] = dims4(gs);
    assert_eq!(
        go, o,
        "the output's gradient has the weight's output channels"
    );
    Geometry::new([batch, c, oh + kh - 1, ow + kw - 1], o, [kh, kw])
}

/// Where each image's output gradient `[O, P]` comes from.
#[derive(Clone, Copy)]
enum OutputGrad<'a> {
    /// The gradient itself, `[B, O, oh, ow]`.
    Dense(&'a [f32]),
    /// A max-pool's gradient `[B, O, ph, pw]` and where each window's largest value lay in its
    /// plane: the output's gradient is each value put back there, 0 elsewhere.
    Pooled {
        grad: &'a [f32],
        positions: &'a [i32],
        pooled: usize,
    },
}

impl<'a> OutputGrad<'a> {
    fn pooled(g: &Geometry, grad: &'a [f32], gs: &[usize], positions: &'a FlexTensor) -> Self {
        let [batch, o, ph, pw] = dims4(gs);
        assert_eq!([batch, o], [g.batch, g.o], "the pool's gradient");
        assert!(ph * pw <= g.p(), "windows inside the output");
        let positions = positions.as_slice::<i32>().expect("i32 positions");
        assert_eq!(
            positions.len(),
            grad.len(),
            "a position for each pooled value"
        );
        Self::Pooled {
            grad,
            positions,
            pooled: ph * pw,
        }
    }

    /// Image `b`'s output gradient `[O, P]`, put together in `scratch` if need be.
    fn image<'s>(&self, g: &Geometry, b: usize, scratch: &'s mut Vec<f32>) -> &'s [f32]
    where
        'a: 's,
    {
        match *self {
            Self::Dense(grad) => &grad[b * g.output()..][..g.output()],
            Self::Pooled {
                grad,
                positions,
                pooled,
            } => {
                scratch.clear();
                scratch.resize(g.output(), 0.0);
                let from = b * g.o * pooled..(b + 1) * g.o * pooled;
                let windows = grad[from.clone()].chunks_exact(pooled);
                let planes = scratch.chunks_exact_mut(g.p());
                for ((plane, grad), at) in planes
                    .zip(windows)
                    .zip(positions[from].chunks_exact(pooled))
                {
                    for (&v, &p) in grad.iter().zip(at) {
                        plane[p as usize] = v;
                    }
                }
                scratch
            }
        }
    }
}

/// The weight's and the bias's gradients of the convolution `g` of `x`, from each image's output
/// gradient.
fn weight_backward(g: Geometry, x: &[f32], dy: OutputGrad) -> (FlexTensor, FlexTensor) {
    let o = g.o;
    let per = g.images_per_task();
    // Each task's sums, added in the tasks' order (the same for the same thread count).
    let parts: Vec<(Vec<f32>, Vec<f32>)> = x
        .par_chunks(per * g.image())
        .enumerate()
        .map(|(task, xs)| {
            let (mut cols, mut scratch) = (vec![0f32; g.k() * g.p()], Vec::new());
            // dWᵀ [K, O] = Σ cols_b [K, P] · dy_bᵀ [P, O]: the layout in which gemm reads the
            // windows as they lie instead of copying each image's 166 k of them into its own
            // order first (it packs dy_b, a quarter of the size, instead).
            let (mut dwt, mut db) = (vec![0f32; g.k() * o], vec![0f32; o]);
            for (i, x) in xs.chunks_exact(g.image()).enumerate() {
                let dy = dy.image(&g, task * per + i, &mut scratch);
                g.im2col(x, &mut cols);
                let cols = Matrix::rows(&cols, g.k(), g.p());
                product(&mut dwt, cols, Matrix::rows(dy, o, g.p()).t(), true);
                for (db, row) in db.iter_mut().zip(dy.chunks_exact(g.p())) {
                    *db += lane_sum(row);
                }
            }
            (dwt, db)
        })
        .collect();
    let (mut dw, mut db) = (new_tensor(&[o, g.c, g.kh, g.kw]), new_tensor(&[o]));
    let mut dwt = vec![0f32; g.k() * o];
    for (part_w, part_b) in parts {
        add(&mut dwt, &part_w);
        add(db.storage_mut::<f32>(), &part_b);
    }
    for (r, row) in dwt.chunks_exact(o).enumerate() {
        for (oc, v) in row.iter().enumerate() {
            dw.storage_mut::<f32>()[oc * g.k() + r] = *v;
        }
    }
    (dw, db)
}

/// The input's gradient of the convolution `g` with weight `w`, from each image's output
/// gradient.
fn input_backward(g: Geometry, w: &[f32], dy: OutputGrad) -> FlexTensor {
    let w = Matrix::rows(w, g.o, g.k());
    let mut dx = new_tensor(&[g.batch, g.c, g.h, g.w]);
    let per = g.images_per_task();
    dx.storage_mut::<f32>()
        .par_chunks_mut(per * g.image())
        .enumerate()
        .for_each(|(task, dxs)| {
            let (mut cols, mut scratch) = (vec![0f32; g.k() * g.p()], Vec::new());
            for (i, dx) in dxs.chunks_exact_mut(g.image()).enumerate() {
                let dy = dy.image(&g, task * per + i, &mut scratch);
                product(&mut cols, w.t(), Matrix::rows(dy, g.o, g.p()), false);
                g.col2im(&cols, dx);
            }
        });
    dx
}

/// `[kh, kw]` of a weight `[O, C, kh, kw]`.
fn kernel_of<B: Backend>(weight: &B::FloatTensorPrimitive) -> [usize; 2] {
    let shape = weight.shape();
    [shape[2], shape[3]]
}

/// A convolution's gradients, from its output's gradient `grad`, registered with those of its
/// parents (input, weight, bias) that ask for one: the input's from `dx`, the weight's and the
/// bias's from `dw_db` (one pass gives both), each computed only when asked for.
fn register_gradients<B: Backend>(
    grads: &mut Gradients,
    [x, w, b]: [Option<NodeId>; 3],
    grad: B::FloatTensorPrimitive,
    dx: impl FnOnce(B::FloatTensorPrimitive) -> B::FloatTensorPrimitive,
    dw_db: impl FnOnce(B::FloatTensorPrimitive) -> (B::FloatTensorPrimitive, B::FloatTensorPrimitive),
) {
    if let Some(x) = x {
        grads.register::<B>(x, dx(grad.clone()));
    }
    if w.is_some() || b.is_some() {
        let (dw, db) = dw_db(grad);
        for (node, grad) in [(w, dw), (b, db)] {
            if let Some(node) = node {
                grads.register::<B>(node, grad);
            }
        }
    }
}

impl<B: Backend + FusedConv2d, C: CheckpointStrategy> FusedConv2d for Autodiff<B, C> {
    fn conv_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Forward;

        impl<B: Backend + FusedConv2d> Backward<B, 3> for Forward {
            /// The input and the weight.
            type State = (B::FloatTensorPrimitive, B::FloatTensorPrimitive);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let grad = grads.consume::<B>(&ops.node);
                let (x, weight) = ops.state;
                let kernel = kernel_of::<B>(&weight);
                register_gradients::<B>(
                    grads,
                    ops.parents.map(|node| node.map(|node| node.id)),
                    grad,
                    |grad| B::conv_input_backward(weight, grad),
                    |grad| B::conv_weight_backward(x, grad, kernel),
                );
            }
        }

        match Forward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (x, weight) = (x.into_primitive(), weight.into_primitive());
                let y = B::conv_forward(x.clone(), weight.clone(), bias.into_primitive());
                prep.finish((x, weight), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv_forward(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }

    /// The gradients as constants (their own gradients are not asked for).
    fn conv_weight_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: [usize; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (dw, db) = B::conv_weight_backward(x.into_primitive(), grad.into_primitive(), kernel);
        (Self::from_inner(dw), Self::from_inner(db))
    }

    fn conv_input_backward(
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::conv_input_backward(
            weight.into_primitive(),
            grad.into_primitive(),
        ))
    }

    fn conv_max_pool_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pool: usize,
    ) -> (FloatTensor<Self>, IntTensor<Self>) {
        #[derive(Debug)]
        struct Forward;

        impl<B: Backend + FusedConv2d> Backward<B, 3> for Forward {
            /// The input, the weight, the positions of the windows' largest values, and the
            /// convolution's output size before the pool.
            type State = (
                B::FloatTensorPrimitive,
                B::FloatTensorPrimitive,
                B::IntTensorPrimitive,
                [usize; 2],
            );

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (x, weight, positions, output) = ops.state;
                let kernel = kernel_of::<B>(&weight);
                let at = positions.clone();
                let grad = grads.consume::<B>(&ops.node);
                register_gradients::<B>(
                    grads,
                    ops.parents.map(|node| node.map(|node| node.id)),
                    grad,
                    |grad| B::conv_pooled_input_backward(weight, grad, at, output),
                    |grad| B::conv_pooled_weight_backward(x, grad, positions, kernel),
                );
            }
        }

        let prepared = Forward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful();
        let (x, weight) = (x.into_primitive(), weight.into_primitive());
        let (xs, ws) = (x.shape(), weight.shape());
        let output = [xs[2] + 1 - ws[2], xs[3] + 1 - ws[3]];
        let (y, positions) =
            B::conv_max_pool_forward(x.clone(), weight.clone(), bias.into_primitive(), pool);
        let y = match prepared {
            OpsKind::Tracked(prep) => prep.finish((x, weight, positions.clone(), output), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (y, positions)
    }

    fn conv_pooled_weight_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        positions: IntTensor<Self>,
        kernel: [usize; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (dw, db) = B::conv_pooled_weight_backward(
            x.into_primitive(),
            grad.into_primitive(),
            positions,
            kernel,
        );
        (Self::from_inner(dw), Self::from_inner(db))
    }

    fn conv_pooled_input_backward(
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        positions: IntTensor<Self>,
        output: [usize; 2],
    ) -> FloatTensor<Self> {
        Self::from_inner(B::conv_pooled_input_backward(
            weight.into_primitive(),
            grad.into_primitive(),
            positions,
            output,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_same_to_scale, values};
    use burn::nn::PaddingConfig2d;

    fn tensor<const D: usize>(shape: [usize; D], salt: usize, device: &Device) -> Tensor<D> {
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| (((i + salt) * 7919) % 1009) as f32 / 1009.0 - 0.5)
            .collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    /// The fused convolution is burn's `Conv2d`: the same output and the same gradients of the
    /// input, the weight and the bias, for a kernel that is not square over images that are
    /// not square, an input that is a strided view, and a batch the threads split unevenly
    /// (5 images on 4 threads: runs of 2, 2 and 1). The output's gradient is weighted by
    /// position, so a transposed or shifted window would change every gradient.
    #[test]
    fn the_fused_convolution_is_burns_forward_and_backward() {
        let device = Device::flex().autodiff();
        let (batch, c, o, kernel, h, w) = (5, 3, 4, [3, 2], 7, 6);
        let conv = Conv2d {
            weight: burn::module::Param::from_tensor(tensor(
                [o, c, kernel[0], kernel[1]],
                1,
                &device,
            )),
            bias: Some(burn::module::Param::from_tensor(tensor([o], 2, &device))),
            stride: [1, 1],
            kernel_size: kernel,
            dilation: [1, 1],
            groups: 1,
            padding: PaddingConfig2d::Valid,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let run = |fused: bool| {
            // [batch, w, h, c] permuted to [batch, c, h, w]: not contiguous.
            let raw = tensor([batch, w, h, c], 3, &device).require_grad();
            let x = raw.clone().permute([0, 3, 2, 1]);
            assert!(takes(&conv, &x));
            let y = if fused {
                pool.install(|| forward(&conv, x))
            } else {
                conv.forward(x)
            };
            assert_eq!(y.dims(), [batch, o, h - 2, w - 1]);
            let weights = tensor(y.dims(), 4, &device);
            let grads = pool.install(|| (y.clone() * weights).sum().backward());
            let grad = |t: Option<Tensor<4>>| values(t.expect("a gradient"));
            [
                values(y),
                grad(raw.grad(&grads)),
                grad(conv.weight.val().grad(&grads)),
                values(conv.bias.as_ref().unwrap().val().grad(&grads).unwrap()),
            ]
        };
        let (fused, burn) = (run(true), run(false));
        for (what, (f, b)) in ["y", "dx", "dW", "db"].iter().zip(fused.iter().zip(&burn)) {
            assert_same_to_scale(what, f, b);
        }
    }

    /// The one-pass convolution and max-pool is the fused convolution, then burn's `MaxPool2d`,
    /// to the bit (the same products in the same order), forward and backward (the gradients of
    /// the input, the weight and the bias), with windows of 2 and 3 that do not divide the
    /// output, on 5 images split over 4 threads; and without autodiff.
    #[test]
    fn the_pooled_convolution_is_the_convolution_then_the_pool() {
        use burn::nn::pool::MaxPool2dConfig;
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        for device in [Device::flex().autodiff(), Device::flex()] {
            let conv = Conv2d {
                weight: burn::module::Param::from_tensor(tensor([4, 3, 3, 3], 1, &device)),
                bias: Some(burn::module::Param::from_tensor(tensor([4], 2, &device))),
                stride: [1, 1],
                kernel_size: [3, 3],
                dilation: [1, 1],
                groups: 1,
                padding: PaddingConfig2d::Valid,
            };
            for size in [2, 3] {
                let pool = MaxPool2dConfig::new([size, size]).init();
                let run = |together: bool| {
                    let x = tensor([5, 3, 11, 10], 3, &device);
                    let x = if device.is_autodiff() {
                        x.require_grad()
                    } else {
                        x
                    };
                    let y = threads.install(|| {
                        if together {
                            forward_max_pooled(&conv, x.clone(), size)
                        } else {
                            pool.forward(forward(&conv, x.clone()))
                        }
                    });
                    assert_eq!(y.dims(), [5, 4, 9 / size, 8 / size]);
                    let mut out = vec![values(y.clone())];
                    if device.is_autodiff() {
                        let weights = tensor(y.dims(), 4, &device);
                        let grads = threads.install(|| (y * weights).sum().backward());
                        let bias = conv.bias.as_ref().unwrap().val();
                        out.push(values(x.grad(&grads).unwrap()));
                        out.push(values(conv.weight.val().grad(&grads).unwrap()));
                        out.push(values(bias.grad(&grads).unwrap()));
                    }
                    out
                };
                let (together, apart) = (run(true), run(false));
                for (what, (t, a)) in ["y", "dx", "dW", "db"]
                    .iter()
                    .zip(together.iter().zip(&apart))
                {
                    assert_eq!(t, a, "size {size}, {what}");
                }
            }
        }
    }

    /// Convolutions the kernel does not compute keep burn's `Conv2d`.
    #[test]
    fn only_plain_convolutions_on_flex_are_fused() {
        let device = Device::flex();
        let plain = Conv2d {
            weight: burn::module::Param::from_tensor(tensor([2, 1, 3, 3], 1, &device)),
            bias: Some(burn::module::Param::from_tensor(tensor([2], 2, &device))),
            stride: [1, 1],
            kernel_size: [3, 3],
            dilation: [1, 1],
            groups: 1,
            padding: PaddingConfig2d::Valid,
        };
        let x = tensor([1, 1, 8, 8], 3, &device);
        assert!(takes(&plain, &x));
        let strided = Conv2d {
            stride: [2, 2],
            ..plain.clone()
        };
        let dilated = Conv2d {
            dilation: [2, 1],
            ..plain.clone()
        };
        let no_bias = Conv2d {
            bias: None,
            ..plain.clone()
        };
        for other in [strided, dilated, no_bias] {
            assert!(!takes(&other, &x));
        }
    }
}
