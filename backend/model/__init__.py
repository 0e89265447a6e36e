"""Part VAEs, the denoiser and safe checkpoint loading (spec §2-3)."""
