"""The worker process: the backend behind a JSON-lines pipe (see docs/protocol.md).

`protocol` defines the wire format; `server.serve` runs the loop. The Blender add-on starts
`rag-gesture worker` as a child process so torch, CUDA crashes and out-of-memory stay out of
Blender's own process.
"""
