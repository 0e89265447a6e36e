"""Retrieval building blocks for RAG-Gesture (spec §5): records, taggers, scoring, placement.

* `records`     - what the database stores per 10-s window and what a query carries;
* `connectives` - local explicit-connective tagger + reader for the official discourse JSON;
* `gesture_types` - local deictic/iconic/metaphoric tagger, LLM prompt + answer parser,
                  query-word matching to timed tokens;
* `prominence_map` - per-phrase prominence from (word, start, end, prominence) rows;
* `scoring`     - per-window scores of the three strategies, ranking and selection;
* `placement`   - where a retrieved clip goes in the query's latent canvas (§5.7).

Everything here is pure (no database, no model or network calls).
"""
