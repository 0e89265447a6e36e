"""`scaled_linear` betas and the official timestep respacing (spec §4.1-4.2), also scaled to
fewer DDIM steps (`respace_for_steps`).

Arrays stay float64 numpy, as in the official code; a coefficient is taken in float64 and
only then cast to float32, which is what makes the golden numbers reproducible.
`Schedule.on(device)` holds those float32 values as tensors on the sampling device, made
once, so a sampling step indexes them there instead of copying a scalar from the host (on a
GPU every such copy waits for the queued work: one stall per coefficient per step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


def scaled_linear_betas(steps: int) -> np.ndarray:
    """beta_i = (sqrt(0.00085) + (sqrt(0.012) - sqrt(0.00085)) * i/(steps-1))^2, float64."""
    return np.linspace(0.00085**0.5, 0.012**0.5, steps, dtype=np.float64) ** 2


def space_timesteps(num_timesteps: int, section_counts: str) -> list[int]:
    """Timesteps kept by a respacing string like "15,15,8,6,6" or "ddim50", ascending.

    The sections split [0, num_timesteps) evenly; inside a section of size S with c steps the
    offsets are an accumulated float stride (S-1)/(c-1) rounded half-to-even, as the official
    code does (accumulation, not multiplication, decides the rounding).
    """
    if section_counts.startswith("ddim"):
        wanted = int(section_counts[len("ddim"):])
        for stride in range(1, num_timesteps):
            if len(range(0, num_timesteps, stride)) == wanted:
                return list(range(0, num_timesteps, stride))
        raise ValueError(f"cannot make exactly {wanted} evenly strided steps")
    counts = [int(x) for x in section_counts.split(",")]
    size_per, extra = divmod(num_timesteps, len(counts))
    start, steps = 0, []
    for i, count in enumerate(counts):
        size = size_per + (1 if i < extra else 0)
        if size < count:
            raise ValueError(f"cannot divide a section of {size} steps into {count}")
        stride = 1 if count <= 1 else (size - 1) / (count - 1)
        cur = 0.0
        for _ in range(count):
            steps.append(start + round(cur))
            cur += stride
        start += size
    return sorted(set(steps))


def respace_for_steps(steps: int, official: str = "15,15,8,6,6",
                      num_timesteps: int = 1000) -> str:
    """The official section layout scaled to `steps` DDIM steps (same shape).

    Each section keeps its share of the steps (15/50 of them in the first, ...), but a
    section of S timesteps holds at most S steps: what a full section cannot take goes to
    the others, the least filled first, so every count from one step per section up to
    `num_timesteps` (every timestep) works. The official count returns the official string.
    """
    sections = [int(x) for x in official.split(",")]
    total = sum(sections)
    if steps == total:
        return official
    size_per, extra = divmod(num_timesteps, len(sections))
    room = [size_per + (1 if i < extra else 0) for i in range(len(sections))]
    if not len(sections) <= steps <= num_timesteps:
        raise ValueError(f"the number of DDIM steps must be from {len(sections)} to "
                         f"{num_timesteps}, got {steps}")
    scaled = [min(r, max(1, round(c * steps / total))) for c, r in zip(sections, room,
                                                                        strict=True)]
    while sum(scaled) > steps:
        scaled[scaled.index(max(scaled))] -= 1
    while sum(scaled) < steps:
        free = [i for i in range(len(scaled)) if scaled[i] < room[i]]
        scaled[min(free, key=lambda i: scaled[i])] += 1
    return ",".join(str(c) for c in scaled)


@dataclass
class Schedule:
    """The respaced ("SpacedDiffusion") schedule the sampler walks."""

    timesteps: np.ndarray  # original-scale timestep of each spaced index, ascending (int64)
    betas: np.ndarray
    alphas_cumprod: np.ndarray
    alphas_cumprod_prev: np.ndarray
    alphas_cumprod_next: np.ndarray
    _on: dict[str, Coefficients] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def create(cls, respace: str = "15,15,8,6,6", steps: int = 1000,
               beta_scheduler: str = "scaled_linear") -> Schedule:
        if beta_scheduler != "scaled_linear":
            raise ValueError(f"beta schedule {beta_scheduler!r} is not supported "
                             "(the released model uses 'scaled_linear')")
        base = np.cumprod(1.0 - scaled_linear_betas(steps), axis=0)
        use = space_timesteps(steps, respace)
        last, betas = 1.0, []
        for t in use:
            betas.append(1 - base[t] / last)
            last = base[t]
        betas_arr = np.array(betas, dtype=np.float64)
        ac = np.cumprod(1.0 - betas_arr, axis=0)
        return cls(
            timesteps=np.array(use, dtype=np.int64),
            betas=betas_arr,
            alphas_cumprod=ac,
            alphas_cumprod_prev=np.append(1.0, ac[:-1]),
            alphas_cumprod_next=np.append(ac[1:], 0.0),
        )

    def __len__(self) -> int:
        return len(self.timesteps)

    def on(self, device: torch.device | str) -> Coefficients:
        """The sampler's coefficients as float32 tensors on `device` (made once per device)."""
        key = str(torch.device(device))
        if key not in self._on:
            self._on[key] = Coefficients.of(self, device)
        return self._on[key]

    # Derived float64 arrays, named as in the official code.
    @property
    def sqrt_recip_alphas_cumprod(self) -> np.ndarray:
        return np.sqrt(1.0 / self.alphas_cumprod)

    @property
    def sqrt_recipm1_alphas_cumprod(self) -> np.ndarray:
        return np.sqrt(1.0 / self.alphas_cumprod - 1)

    @property
    def sqrt_alphas_cumprod(self) -> np.ndarray:
        return np.sqrt(self.alphas_cumprod)

    @property
    def sqrt_one_minus_alphas_cumprod(self) -> np.ndarray:
        return np.sqrt(1.0 - self.alphas_cumprod)

    @property
    def posterior_variance(self) -> np.ndarray:
        return self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)

    @property
    def posterior_mean_coef1(self) -> np.ndarray:
        return self.betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)

    @property
    def posterior_mean_coef2(self) -> np.ndarray:
        return ((1.0 - self.alphas_cumprod_prev) * np.sqrt(1.0 - self.betas)
                / (1.0 - self.alphas_cumprod))


def _table(arr: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """Every arr[k] cast float64 -> float32 on the CPU (element by element, the value
    `torch.tensor(arr[k], dtype=float64).float()` has), then moved in one copy."""
    return torch.from_numpy(np.asarray(arr, np.float64)).to(torch.float32).to(device)


@dataclass(frozen=True)
class Coefficients:
    """A schedule's coefficient arrays as float32 tensors on one device; entry k is arr[k]
    cast to float32, a 0-dim tensor on the device, without a host copy per step."""

    sqrt_recip_alphas_cumprod: torch.Tensor
    sqrt_recipm1_alphas_cumprod: torch.Tensor
    alphas_cumprod_prev: torch.Tensor
    alphas_cumprod_next: torch.Tensor
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor

    @classmethod
    def of(cls, s: Schedule, device: torch.device | str) -> Coefficients:
        return cls(**{name: _table(getattr(s, name), device)
                      for name in cls.__dataclass_fields__})
