"""tokenmill's trainer: MobileLLM-R1 model, fused Triton kernels, Arrow-shard loader, train loop."""

__version__ = "0.1.0"
