"""Speech front end: any recording + its words -> RAG-Gesture conditions and word timings.

Layers: `audio` (decode, resample to 16 kHz mono), `transcripts` (TXT/SRT/VTT/TextGrid/JSON),
`alignment` (CTC forced alignment), `wav2vec` (audio features + CTC emissions), `bert`
(frame-aligned word features), `prominence`, and `frontend` which ties them to
the 10-s windows the model consumes. The BEAT2 speaker table is `rag_gesture_shared.speakers`.
"""
