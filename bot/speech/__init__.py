"""Offline speech: ffmpeg decoding, the Vosk recognizer, model management and its CLI commands.

`SpeechService` is the entry point (`SpeechService.from_settings(settings)`); `Recognizer` is
the protocol a test stand-in implements. Errors form the `SpeechError` tree (see
`bot.speech.audio`); model downloads raise the `ModelDownloadError` tree (`bot.speech.models`).
"""

from bot.speech.audio import (
    AudioDecodeError,
    AudioError,
    AudioTooLongError,
    DecodedAudio,
    DecodeTimeoutError,
    EmptyAudioError,
    FfmpegNotFoundError,
    ModelUnavailableError,
    SpeechError,
    decode_audio,
    find_ffmpeg,
)
from bot.speech.models import (
    DEFAULT_MODEL_NAME,
    ModelArchiveError,
    ModelDownloadError,
    ModelNotFoundError,
    ModelOfflineError,
    download_model,
    resolve_model_path,
)
from bot.speech.recognizer import (
    Grammar,
    ModelInfo,
    Recognition,
    RecognitionPass,
    Recognizer,
    SecondPass,
    VoskModel,
    VoskRecognizer,
    Word,
    load_model,
)
from bot.speech.service import (
    SpeechService,
    SpeechStats,
    SpeechStatus,
    StageTimings,
    Transcription,
)

__all__ = [
    "DEFAULT_MODEL_NAME",
    "AudioDecodeError",
    "AudioError",
    "AudioTooLongError",
    "DecodeTimeoutError",
    "DecodedAudio",
    "EmptyAudioError",
    "FfmpegNotFoundError",
    "Grammar",
    "ModelArchiveError",
    "ModelDownloadError",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelOfflineError",
    "ModelUnavailableError",
    "Recognition",
    "RecognitionPass",
    "Recognizer",
    "SecondPass",
    "SpeechError",
    "SpeechService",
    "SpeechStats",
    "SpeechStatus",
    "StageTimings",
    "Transcription",
    "VoskModel",
    "VoskRecognizer",
    "Word",
    "decode_audio",
    "download_model",
    "find_ffmpeg",
    "load_model",
    "resolve_model_path",
]
