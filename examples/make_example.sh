#!/usr/bin/env bash
# Regenerates examples/hello.flac (espeak-ng speech, 16 kHz mono) and its transcript.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
TEXT="Hello! Today I want to show you three things. First, look at this big circle. Then we go over there, because that is where the answer is."
espeak-ng -s 150 -w /tmp/rag_gesture_hello.wav "$TEXT"
sox /tmp/rag_gesture_hello.wav -r 16000 -c 1 -b 16 hello.flac
rm -f /tmp/rag_gesture_hello.wav
echo "$TEXT" > hello.txt
