# tokenmill GPU trainer image: CUDA PyTorch + the trainer, with the Triton kernels compiled ahead
# of time for sm_80 (A100) and sm_90 (H100/H200) into the image's Triton cache, so a job starts
# without JIT compilation. No GPU is needed to build it (tokenmill_trainer.aot compiles with a
# stand-in driver; ptxas ships inside the triton wheel).
#
#   docker build -f infra/trainer.Dockerfile -t tokenmill-trainer .
#   docker run --gpus all -v /path/to/job:/job tokenmill-trainer --spec /job/job.json
#   (several GPUs: --entrypoint python ... -m tokenmill_trainer.launch --nproc-per-node 8 -- --spec ...)
#
# The job spec is the only input (contract 5); S3 credentials, when shards live on S3, come from the
# usual AWS_* environment, and TOKENMILL_RUN_TOKEN may carry the progress token instead of the spec.

# torch 2.11 brings triton 3.6: the versions the trainer is tested with on GPUs.
ARG BASE=pytorch/pytorch:2.11.0-cuda12.8-cudnn9-runtime
FROM ${BASE}

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TRITON_CACHE_DIR=/opt/tokenmill/triton-cache

WORKDIR /opt/tokenmill/trainer
# Dependencies first (cached layer), then the code. torch/triton come from the base image: the
# pyproject's ranges accept them, so pip keeps them.
COPY workers/trainer/pyproject.toml ./
RUN mkdir tokenmill_trainer && touch tokenmill_trainer/__init__.py \
 && pip install --no-cache-dir ".[export,s3]" \
 && pip uninstall -y tokenmill-trainer
COPY workers/trainer/tokenmill_trainer ./tokenmill_trainer
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"

# Ahead-of-time kernels: every op, fp32 and bf16, for the 140M/360M/950M shapes, sm_80 and sm_90.
# The cache stays writable so a shape not covered here can still JIT at run time.
RUN env -u TRITON_INTERPRET python -m tokenmill_trainer.aot --arch 80 90 \
 && find "$TRITON_CACHE_DIR" -name '*.cubin' | wc -l \
 && chmod -R a+rwX /opt/tokenmill

ENTRYPOINT ["python", "-m", "tokenmill_trainer.train"]
CMD ["--spec", "/job/job.json"]
