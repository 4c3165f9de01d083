"""Every random draw of a pattern is pinned across versions: the design promises that the same config and seed
give the same data set file, and a draw's stream number is "fixed forever" (``profile_config``). These values
were recorded on 2026-12-07; a change that moves one is a change of every data set built since, and must be
deliberate (new stream numbers for new effects leave these untouched)."""

from __future__ import annotations

import dataclasses

import torch

from xrdnet.simulate import rng
from xrdnet.simulate.profile_config import sample_parameters
from xrdnet.simulate.profile_presets import REAL

PINNED_DRAWS = {
    'eta': [0.6704984307289124, 0.5901720523834229, 0.12132332473993301],
    'u': [0.006337115075439215, 0.007990673184394836, 0.011115329340100288],
    'v': [-0.004420701414346695, -0.008399047888815403, -0.005732209421694279],
    'w': [0.0067204502411186695, 0.0061790551990270615, 0.002442877972498536],
    'size_nm': [378.2714538574219, 52.82747268676758, 95.66964721679688],
    'kalpha2_ratio': [0.5071448683738708, 0.4639784097671509, 0.4605049192905426],
    'zero_shift_deg': [0.05478275567293167, -0.04676411673426628, 0.0248274989426136],
    'displacement_mm': [0.009303340688347816, -0.00300390413030982, 0.056199923157691956],
    'march_dollase_r': [0.8200345635414124, 1.1514372825622559, 0.8040817379951477],
    'texture_direction': [2, 2, 0],
    'background_level': [0.11749468743801117, 0.1423426866531372, 0.06168946996331215],
    'peak_counts': [836.0249633789062, 9083.517578125, 4757.41748046875],
    'lattice_strain': [0.007065352518111467, 0.008610623888671398, -0.019015489146113396],
    'intensity_sigma': [0.14747363328933716, 0.013086426071822643, 0.252945214509964],
    'detection_limit': [0.002318427199497819, 0.012151222676038742, 0.023006416857242584],
    'impurity_count': [3, 1, 0],
    'edge_change': [[-0.008042838424444199, -0.009564748033881187, -0.011441240087151527], [-0.015144873410463333, -0.009533674456179142, 0.009523202665150166], [0.011979215778410435, -0.004923353902995586, -0.015629444271326065]],
    'angle_change_deg': [[0.22622564435005188, 1.0933926105499268, -0.003596752882003784], [-0.05043795704841614, 1.1652902364730835, -0.5235998630523682], [-1.2340513467788696, -0.4640327990055084, -1.0136399269104004]],
    'b_iso_change': [-0.38153618574142456, 0.05649977922439575, 0.23823779821395874],
}
PINNED_NORMAL = [[0.19163326919078827, -1.636264443397522, 1.8957754373550415], [1.9321874380111694, 1.7043732404708862, 0.6328198313713074], [0.9717824459075928, -0.3680196702480316, -0.822263240814209]]
PINNED_NORMAL_STABLE = [[0.39376121759414673, -0.7654999494552612, 1.188283085823059], [0.3336643874645233, 0.6895089745521545, -1.2208518981933594], [0.13702130317687988, 0.31902751326560974, -0.7078167796134949]]
PINNED_UNIFORM = [[0.14708134531974792, 0.012821763753890991, 0.7600473463535309], [0.7135929763317108, 0.0905974805355072, 0.14795783162117004], [0.3431372344493866, 0.9858487546443939, 0.08509805798530579]]


def test_profile_draws_of_every_effect_are_pinned():
    config = dataclasses.replace(REAL, anisotropic_strain=(-0.03, 0.03), cell_angle_change_deg=(-1.5, 1.5),
                                 b_iso_change_A2=(-0.5, 1.5))
    drawn = sample_parameters(config, 7, torch.tensor([0, 1, 12345]))
    assert {f.name for f in dataclasses.fields(drawn)} == set(PINNED_DRAWS)
    for name, values in PINNED_DRAWS.items():
        got = getattr(drawn, name)
        assert torch.equal(got, torch.tensor(values, dtype=got.dtype)), name


def test_counter_based_streams_are_pinned():
    ids = torch.tensor([0, 5, 99])
    assert torch.equal(rng.normal(7, ids, 21, 3), torch.tensor(PINNED_NORMAL, dtype=torch.float32))
    assert torch.equal(rng.normal_stable(7, ids, 22, 3), torch.tensor(PINNED_NORMAL_STABLE, dtype=torch.float32))
    assert torch.equal(rng.uniform(7, ids, 20, 3, torch.float64), torch.tensor(PINNED_UNIFORM, dtype=torch.float64))
