#!/bin/bash
# The wgpu build on a GPU against PyTorch CUDA, alternated (benches/compare/alternate.py): the
# course MLP at batch 50 and 500 and configs/cnn.toml's CNN. Run from the repository root on a
# machine with an NVIDIA GPU, its driver and PyTorch, after preparing `.device/` here (README,
# Speed, "On a GPU"): the .debs of the Vulkan loader and glvnd (libvulkan1 libegl1 libglvnd0
# libopengl0 libgl1 libglx0 libgles2) and `mnist.gz`, a stripped `--features wgpu` build.
#
#     bash benches/compare/gpu.sh [NAME...]   # mlp-b50 mlp-b500 cnn-b64 (default: all three);
#                                             # output also in $OUT/NAME.txt when OUT is set
#
# Each comparison has a time limit of its own, so one slow side cannot eat the others' time; the
# rounds printed before a limit are kept.
set -u
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
# The Vulkan loader (libvulkan.so.1) and glvnd (libGLdispatch and friends): the NVIDIA driver's
# Vulkan driver (ICD) is libGLX_nvidia.so.0, which fails to create an instance without glvnd
# ("Could not get 'vkCreateInstance'", then wgpu finds no adapter).
for f in .device/*.deb; do dpkg -x "$f" /; done
ldconfig
export XDG_RUNTIME_DIR=/tmp PYTHONUNBUFFERED=1
nv=/usr/local/nvidia/share
[ -f $nv/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=$nv/vulkan/icd.d/nvidia_icd.json
[ -f $nv/glvnd/egl_vendor.d/10_nvidia.json ] &&
  export __EGL_VENDOR_LIBRARY_FILENAMES=$nv/glvnd/egl_vendor.d/10_nvidia.json
{ nvidia-smi -L; lscpu | grep -E "Model name|^CPU\(s\)"; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } 2>&1 | tee "$out/machine.txt"
[ -f .device/mnist ] || gunzip -kf .device/mnist.gz
chmod +x .device/mnist
# Same thread count on both sides: the project's host work uses every core.
threads=$(nproc)
wanted=" ${*:-mlp-b50 mlp-b500 cnn-b64} "
compare() { # NAME LIMIT_S ARGS...: one alternated comparison, its output kept in $out/NAME.txt
  local name=$1 limit=$2
  shift 2
  [[ $wanted == *" $name "* ]] || return 0
  echo "== $name ($*)"
  timeout "$limit" python3 benches/compare/alternate.py "$@" --python python3 \
    --mnist .device/mnist --backend wgpu --device cuda --threads "$threads" 2>&1 | tee "$out/$name.txt"
}
# Three epochs a process: the median leaves out the first epoch's shader compiles and autotuning.
compare mlp-b50 150 mlp --batch 50 --rounds 3 --epochs 3
compare mlp-b500 90 mlp --batch 500 --rounds 3 --epochs 3
compare cnn-b64 240 cnn --rounds 2 --epochs 2
echo "== done"
