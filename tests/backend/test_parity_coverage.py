"""Every tensor in the golden file is one the parity tests compare or use as an input.

Another fixture set in the same format may hold other tags; this fails loudly if it holds a
kind of entry no test knows about instead of silently skipping it.
"""

from __future__ import annotations

import re

from backend.diffusion.guidance_schedules import guidance_iters

KNOWN = [
    r"config/joint_scale_mask",
    r"inputs/(text|audio|speaker_ids|motion_mask_latent|query_mask_xf)",
    r"vae/[a-z]+/(input|encode_out|eps|dist_scale|z|decode_of_z|z_rand|decode_of_z_rand)",
    r"gre_encode/in/motion_[a-z]+",
    r"gre_encode/(in_place_modified_transl|latent|mask)",
    r"gre_encode/(vae_input|mu|eps)/[a-z]+",
    r"gre_decode/(in|upper_aa|lower_aa|face_jaw_aa|hands_aa|transl|expressions|contact)",
    r"cond/xf_(text|audio|spk)",
    r"fwd/x_t",
    r"fwd(_ones)?/[^/]+/(timesteps|out|out_raw_text_none|emb|h_in|block\d+_out)",
    r"sched/(betas_scaled_linear_\d+|respaced_timesteps_sorted|base_alphas_cumprod)",
    r"sched/spaced/[a-z0-9_]+",
    r"ddim/(noise|samples|pred_xstart|spaced_t|orig_t)",
    r"e2e_ddim/(start_noise|final_latent|pred_[a-z]+)",
    r"inv/(x0|retr_text|retr_audio|retr_spkid|latents|pred_xstart)",
    r"ins/(q_sample_noise|step_x_in|step_sample|step_pred_xstart|start_noise|final_latent"
    r"|pred_upper|pred_hands|inverted_latent_list_for_guidance)",
    r"vae_alt/(encode_out|z|eps|decode_of_z)",
]
# Recorded for information only: the gradient loop it drives is a verified no-op (fidelity.md).
INFORMATIONAL = {"ins/guidance_iters"}


def test_every_golden_entry_is_known(golden):
    unknown = [k for k in golden if k not in INFORMATIONAL
               and not any(re.fullmatch(p, k) for p in KNOWN)]
    assert unknown == []


def test_guidance_iters_preset_matches_the_named_one(golden, golden_meta):
    call = golden_meta["entries"]["ins/final_latent"]["call"]
    name = re.search(r"guidance_iters:([a-z_0-9]+)", call)[1]
    iters = golden["ins/guidance_iters"].tolist()
    assert guidance_iters(name, len(iters)) == iters
