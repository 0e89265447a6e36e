"""Speech front end: any recording + its words -> RAG-Gesture conditions and word timings.

Layers: `audio` (decode, resample to 16 kHz mono), `transcripts` (TXT/SRT/VTT/TextGrid/JSON),
`alignment` (CTC forced alignment), `wav2vec` (audio features + CTC emissions), `bert`
(frame-aligned word features), `prominence`, `speakers`, and `frontend` which ties them to
the 10-s windows the model consumes.
"""
