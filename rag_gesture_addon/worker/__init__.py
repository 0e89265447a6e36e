"""The process boundary, without bpy: the worker process (``client``), the jobs that send it
a request and collect the result (``jobs``), and installing and checking the backend
(``setup``).

Requests and events are the shared protocol's (``..shared.protocol``). Tested without
Blender in tests/addon/worker; tests/blender/ui/test_generate.py drives a real worker.
"""
