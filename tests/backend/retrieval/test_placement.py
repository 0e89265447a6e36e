"""Placement of retrieved clips in the latent canvas (spec §5.7), hand-computed cases.

Every expected tuple is (retr_start, retr_end, query_start, query_end) in latent tokens, derived
in the comments with fps = frames_per_token = 15 and a 10-token (10-s, 150-frame) window.
"""

from __future__ import annotations

import pytest

from backend.retrieval.placement import Placement, place, place_all


def test_length_one_from_clamping_at_window_start():
    # short gesture label (0.2 s <= 0.9): stroke padding [0.1-0.666 -> 0, 0.3+0.333 = 0.633]
    # rs = 0, re = int(9.495) = 9 -> tokens [0, 1), L = 1
    # query: qs = int(48.0) = 48, qe = int(54.0) = 54, mid = 51, mid_lat = 3 -> [3, 4)
    assert place(3.2, 3.6, 0.1, 0.3, method="gesture_type") == (0, 1, 3, 4)


def test_length_two():
    # discourse: [5.034, 6.083] -> rs = int(75.51) = 75, re = int(91.245) = 91 -> [5, 7), L = 2
    # query: qs = 30, qe = int(37.5) = 37, mid = 33, mid_lat = 2 -> [2, 4)
    assert place(2.0, 2.5, 5.7, 5.75, method="discourse") == (5, 7, 2, 4)


def test_odd_length_three_long_gesture_label():
    # llm/gesture_type label of 1.5 s > 0.9: short padding [3.9, 5.7]
    # rs = int(58.5) = 58, re = int(85.5) = 85 -> [3, 6), L = 3
    # query: qs = 90, qe = 105, mid = 97, mid_lat = 6 -> odd: [6 - 1 - 1, 6 + 1) = [4, 7)
    assert place(6.0, 7.0, 4.1, 5.6, method="gesture_type") == (3, 6, 4, 7)
    assert place(6.0, 7.0, 4.1, 5.6, method="llm") == (3, 6, 4, 7)


def test_discourse_always_uses_stroke_padding():
    # a 1.75-s label at 4.2..5.95, query mid_lat = 6
    # discourse: [3.534, 6.283] -> rs = int(53.01) = 53, re = int(94.245) = 94 -> [3, 7), L = 4
    #            even: [6 - 2, 6 + 2) = [4, 8)
    # llm:       [4.0, 6.05]    -> rs = 60, re = int(90.75) = 90 -> [4, 7), L = 3 -> [4, 7)
    assert place(6.0, 7.0, 4.2, 5.95, method="discourse") == (3, 7, 4, 8)
    assert place(6.0, 7.0, 4.2, 5.95, method="llm") == (4, 7, 4, 7)


def test_gesture_label_of_exactly_0_9_s_gets_stroke_padding():
    # duration 0.9 is not > 0.9: [2.0-0.666, 2.9+0.333] = [1.334, 3.233]
    # rs = int(20.01) = 20, re = int(48.495) = 48 -> [1, 4), L = 3
    # query mid_lat 6 -> [4, 7)
    assert place(6.0, 7.0, 2.0, 2.9, method="llm") == (1, 4, 4, 7)


def test_even_length_four():
    # discourse: [1.534, 4.733] -> rs = int(23.01) = 23, re = int(70.995) = 70 -> [1, 5), L = 4
    # query: qs = 75, qe = int(88.5) = 88, mid = 81, mid_lat = 5 -> [5 - 2, 5 + 2) = [3, 7)
    assert place(5.0, 5.9, 2.2, 4.4, method="discourse") == (1, 5, 3, 7)


def test_clamp_at_start():
    # L = 4 as above; query qs = 3, qe = 7, mid = 5, mid_lat = 0 -> [-2, 2) -> [0, 4)
    assert place(0.2, 0.5, 2.2, 4.4, method="discourse") == (1, 5, 0, 4)


def test_clamp_at_end():
    # L = 4; query qs = int(142.5) = 142, qe = int(148.5) = 148, mid = 145, mid_lat = 9
    # -> [7, 11) -> shifted left by 1 -> [6, 10)
    assert place(9.5, 9.9, 2.2, 4.4, method="discourse") == (1, 5, 6, 10)


def test_query_times_are_clamped_to_the_window():
    # query [-1, 12] -> frames [0, 150], mid = 75, mid_lat = 5; L = 4 -> [3, 7)
    assert place(-1.0, 12.0, 2.2, 4.4, method="discourse") == (1, 5, 3, 7)


def test_retrieved_end_at_window_end_rule():
    # discourse [7.334, min(10, 10.133) = 10] -> rs = int(110.01) = 110, re = 150
    # re == 150 -> re = 149, rs = 109 -> [109 // 15, 149 // 15 + 1) = [7, 10), L = 3
    # query mid_lat = 2 -> odd: [0, 3)
    assert place(2.0, 2.5, 8.0, 9.8, method="discourse") == (7, 10, 0, 3)


def test_window_end_rule_moves_start_back_a_token():
    # gesture label 6.2..9.95 (> 0.9 s): [6.0, 10.0] -> rs = 90, re = 150
    # -> re = 149, rs = 89: [89 // 15, 10) = [5, 10), L = 5 (without the rule: [6, 11))
    # query qs = 60, qe = 75, mid = 67, mid_lat = 4 -> odd: [4 - 2 - 1, 4 + 2) = [1, 6)
    assert place(4.0, 5.0, 6.2, 9.95, method="gesture_type") == (5, 10, 1, 6)


def test_empty_retrieved_span_is_skipped():
    # label beyond the window: [10.034, 10] -> rs = int(150.51) = 150, re = 150 -> rs == re
    assert place(2.0, 2.5, 10.7, 10.8, method="discourse") is None


def test_inverted_spans_are_skipped():
    assert place(3.0, 2.0, 2.2, 4.4, method="discourse") is None  # query start > end
    # retrieved [-2, -1]: rs = 0, re = int(-10.005) = -10 -> latent [0, 0): nothing to insert
    assert place(2.0, 2.5, -2.0, -1.0, method="discourse") is None


def test_overlap_with_previous_insertion_shifts_right():
    # L = 3 target [4, 7); previous insertion ended at 5 -> [5, 8)
    assert place(6.0, 7.0, 4.1, 5.6, method="gesture_type", prev_end=5) == (3, 6, 5, 8)


def test_overlap_crops_at_window_end():
    # previous ended at 8 -> [8, 11) -> cropped to [8, 10), L = 2, retrieved [3, 3 + 2)
    assert place(6.0, 7.0, 4.1, 5.6, method="gesture_type", prev_end=8) == (3, 5, 8, 10)


def test_overlap_leaving_no_room_is_skipped():
    assert place(6.0, 7.0, 4.1, 5.6, method="gesture_type", prev_end=10) is None


def test_no_previous_insertion_and_non_overlapping_previous():
    assert place(6.0, 7.0, 4.1, 5.6, method="gesture_type", prev_end=-1) == (3, 6, 4, 7)
    assert place(6.0, 7.0, 4.1, 5.6, method="gesture_type", prev_end=4) == (3, 6, 4, 7)


def test_place_all_threads_the_previous_end():
    spans = [
        (5.0, 5.9, 2.2, 4.4),  # L = 4 at [3, 7)
        (6.0, 7.0, 4.1, 5.6),  # discourse L = 3 target [4, 7) -> after 7: [7, 10)
        (2.0, 2.5, 10.7, 10.8),  # skipped: prev_end stays 10
        (9.0, 9.5, 4.1, 5.6),  # target [7, 10) but prev_end 10 -> no room
    ]
    assert place_all(spans, method="discourse") == [
        Placement(1, 5, 3, 7),
        Placement(3, 6, 7, 10),
        None,
        None,
    ]


def test_other_latent_geometry():
    # 20 tokens of 15 frames at 15 fps (a 20-s window): the end rule applies at frame 300
    # discourse [17.334, 20] -> rs = int(260.01) = 260, re = 300 -> 299, rs = 259
    # -> [17, 20), L = 3; query mid: qs = 285, qe = 297, mid = 291, mid_lat = 19
    # -> odd [17, 20) already ends at 20
    assert place(19.0, 19.8, 18.0, 19.9, method="discourse", latent_len=20) == (17, 20, 17, 20)


def test_unknown_method_rejected():
    with pytest.raises(ValueError, match="unknown retrieval method"):
        place(1.0, 2.0, 1.0, 2.0, method="prosody")
