"""Scene settings (saved with the .blend) and the job status (window manager: not saved, not
part of undo, so progress updates never create undo steps)."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..shared.protocol.regenerate import DEFAULT_MARGIN, MAX_MARGIN
from ..shared.protocol.sampling import MAX_STEPS, MAX_TAKES, MIN_STEPS, OFFICIAL_STEPS
from ..shared.speakers import DEFAULT_SPEAKER, SPEAKERS

# The 25 BEAT2 English speakers in BEAT id order; the enum value is the model's index.
SPEAKER_ITEMS = [
    (s.name, f"{s.beat_id} {s.name.capitalize()}",
     f"BEAT2 speaker {s.beat_id} ({s.name}), model speaker index {s.index}", s.index)
    for s in sorted(SPEAKERS, key=lambda s: s.beat_id)
]


def _is_armature(_self: bpy.types.PropertyGroup, obj: bpy.types.Object) -> bool:
    return obj.type == "ARMATURE"


# The property groups hold properties only, no methods: with a Python method, a property group
# registered from a module of a subpackage crashes the bpy 4.2 module at interpreter exit
# (tests/blender/test_package.py installs the zip in a fresh process and checks its exit code).
# Logic that reads the settings lives in ``scene.requests``.
class RAGGestureSettings(bpy.types.PropertyGroup):
    """Per-scene inputs of Generate / Regenerate range (``scene.rag_gesture``)."""

    armature: PointerProperty(
        name="Armature", type=bpy.types.Object, poll=_is_armature,
        description="Armature that receives the motion (empty: the active object)")

    audio_source: EnumProperty(
        name="Audio", default="ACTIVE_STRIP",
        items=[("ACTIVE_STRIP", "Active Sound Strip",
                "The active strip of the Sequencer if it is a sound strip, else the only "
                "sound strip of the scene"),
               ("NAMED_STRIP", "Named Sound Strip", "The sound strip with the name below"),
               ("FILE", "Audio File", "An audio file that is not on the timeline")])
    audio_strip: StringProperty(name="Sound Strip", description="Name of the sound strip")
    audio_file: StringProperty(name="Audio File", subtype="FILE_PATH",
                               description="Audio file (WAV, FLAC, OGG...)")
    audio_file_frame: IntProperty(
        name="Starts at Frame", default=1,
        description="Timeline frame where the audio file's first sample sits")

    transcript_source: EnumProperty(
        name="Words", default="TEXT_STRIPS",
        items=[("TEXT_STRIPS", "Text Strips",
                "Text strips on one Sequencer channel: each strip's text is spoken during "
                "the strip"),
               ("TEXT_BLOCK", "Text Block", "The words typed in a Text datablock (untimed)"),
               ("FILE", "Transcript File", "A TXT, SRT, WebVTT, Praat TextGrid or JSON file"),
               ("NONE", "From Audio", "No transcript: the words are recognised from the audio")])
    transcript_channel: IntProperty(name="Channel", default=2, min=1, max=128,
                                    description="Sequencer channel of the text strips")
    transcript_text: PointerProperty(name="Text", type=bpy.types.Text,
                                     description="Text datablock with the spoken words")
    transcript_file: StringProperty(name="Transcript File", subtype="FILE_PATH",
                                    description="TXT, SRT, VTT, TextGrid or JSON transcript")
    allow_mismatch: BoolProperty(
        name="Ignore Transcript Mismatch", default=False,
        description="Go on when the words do not seem to match the audio")

    speaker: EnumProperty(name="Speaker", items=SPEAKER_ITEMS, default=DEFAULT_SPEAKER.name,
                          description="Gesture style of one of the 25 BEAT2 speakers")
    seed: IntProperty(name="Seed", default=0, min=0,
                      description="Same seed and inputs give the same motion")
    takes: IntProperty(name="Takes", default=1, min=1, max=MAX_TAKES,
                       description="Number of different takes made at once (one action each)")
    steps: IntProperty(name="Steps", default=OFFICIAL_STEPS, min=MIN_STEPS, max=MAX_STEPS,
                       description="Diffusion steps: 50 is the released setting; fewer is "
                       "faster and rougher")

    range_mode: EnumProperty(
        name="Range", default="PREVIEW",
        items=[("PREVIEW", "Preview Range",
                "The timeline's preview range (Timeline > View > Set Preview Range)"),
               ("CUSTOM", "Frames", "The frames typed below"),
               ("WHOLE", "Whole Take", "Every frame of the active take")])
    range_start: IntProperty(name="Start", default=1, description="First frame to regenerate")
    range_end: IntProperty(name="End", default=48,
                           description="Last frame to regenerate (included)")
    lock_upper: BoolProperty(
        name="Upper Body",
        description="Keep spine, neck, head, shoulders, arms and wrists as they are")
    lock_hands: BoolProperty(
        name="Hands",
        description="Keep the fingers and thumbs as they are (the wrists belong to Upper "
        "Body, so a kept hand still turns with its forearm)")
    lock_face: BoolProperty(name="Face", description="Keep jaw, eyes and expressions as they are")
    lock_lower: BoolProperty(
        name="Lower Body", description="Keep legs, root orientation and translation as they are")
    margin: FloatProperty(name="Blend Margin", default=DEFAULT_MARGIN, min=0.0, max=MAX_MARGIN,
                          precision=2,
                          description="Seconds on each side of the range over which the new "
                          "motion is blended into the old one")

    retrieval: EnumProperty(
        name="Retrieval", default="NONE",
        items=[("NONE", "Off", "Generate from the speech alone"),
               ("DISCOURSE", "Discourse", "Plant database gestures at connectives (because, but, "
                "so, ...)"),
               ("GESTURE_TYPE", "Gesture Words", "Plant database gestures at pointing, shape and "
                "abstract words"),
               ("LLM", "LLM", "Ask the language model configured for the backend "
                "(RAG_GESTURE_LLM_URL) which words to gesture on"),
               ("DIRECTED", "Markers Only", "Only where timeline markers ask for a gesture")],
        description="Retrieval-augmented generation from a gesture database; timeline markers "
        "named deictic, iconic or metaphoric (optionally KIND:word or KIND@clip) always apply")
    gesture_db: StringProperty(name="Gesture Database", subtype="DIR_PATH",
                               description="Folder made by `rag-gesture build-db`")


class RAGGestureJob(bpy.types.PropertyGroup):
    """What the panel and status bar show about the running or last job (``wm.rag_gesture``)."""

    running: BoolProperty(name="Running")
    kind: StringProperty(name="Job")
    stage: StringProperty(name="Stage")
    fraction: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty(name="Message")
    notes: StringProperty(name="Notes",
                          description="Warnings of a job that succeeded, one per line")
    level: EnumProperty(name="Level", items=[("INFO", "Info", ""), ("WARNING", "Warning", ""),
                                             ("ERROR", "Error", "")], default="INFO")
    retrieved: StringProperty(name="Retrieved",
                              description="What the last generation planted where, one per line")


class RAGGestureBoneItem(bpy.types.PropertyGroup):
    """One row of an armature's bone table: which bone drives an SMPL-X joint."""

    joint: StringProperty(name="Joint", description="SMPL-X joint")
    bone: StringProperty(name="Bone", description="Bone of this armature that takes the "
                         "joint's rotation (empty: the joint is folded into its parent)")


CLASSES = (RAGGestureSettings, RAGGestureJob, RAGGestureBoneItem)


def attach() -> None:
    """Hang the registered property groups on Blender's types."""
    bpy.types.Scene.rag_gesture = PointerProperty(type=RAGGestureSettings)
    bpy.types.WindowManager.rag_gesture = PointerProperty(type=RAGGestureJob)
    # per armature, saved with it: the bone table of `rig_profiles` (empty = detect a preset)
    bpy.types.Object.rag_gesture_bones = CollectionProperty(type=RAGGestureBoneItem)
    bpy.types.Object.rag_gesture_bones_index = IntProperty(name="Active Row", default=0)


def detach() -> None:
    del bpy.types.Object.rag_gesture_bones_index
    del bpy.types.Object.rag_gesture_bones
    del bpy.types.WindowManager.rag_gesture
    del bpy.types.Scene.rag_gesture
