"""The worker's JSON-lines protocol (docs/protocol.md), one module per message shape.

Plain data only (standard library): the backend's worker parses requests with these classes
and builds its events with these functions, and the add-on's client builds its requests with
the same classes, so a field is added in one place and both sides agree by construction.

* ``envelope``: the version, line encoding, error codes and `ProtocolError`;
* ``fields``: typed, field-naming validation of one request object;
* ``speech``: the audio + words part of generate and regenerate (`SpeechInput`);
* ``sampling``: speaker, seed, takes and steps (generate and regenerate);
* ``retrieval``: the `retrieval` object and its cues;
* ``generate`` / ``regenerate`` / ``control`` (cancel, ping, shutdown): the requests;
* ``requests``: `parse_request`, any request line -> its class;
* ``events``: hello, progress, result, error, pong, bye, and the client's own exit event;
* ``download``: not a worker message: the progress lines `rag-gesture download --progress
  json` prints, which the add-on's Download Weights button reads.
"""
