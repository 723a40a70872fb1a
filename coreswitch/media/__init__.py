"""Media: text-to-speech with a file cache, say-as rules, sounds and recordings.

- :mod:`~coreswitch.media.engine`     ``TtsEngine`` protocol; the pyttsx3/espeak-ng engine
- :mod:`~coreswitch.media.cache`      ``TtsCache``: hash-keyed WAVs, one worker thread, prerender
- :mod:`~coreswitch.media.tts`        ``open_tts_cache``: the ``[tts]`` config section to a cache
- :mod:`~coreswitch.media.sayas`      numbers, digits, dates, times, money → text / prompt files
  (rules in :mod:`~coreswitch.media.sayas_zh` and :mod:`~coreswitch.media.sayas_en`, shared
  types in :mod:`~coreswitch.media.spoken`)
- :mod:`~coreswitch.media.sounds`     ``SoundLibrary``: recorded sounds for ``play`` and say-as
- :mod:`~coreswitch.media.recording`  ``RecordingStore``: where ``record``/``voicemail`` files go
- :mod:`~coreswitch.media.progress`   ``ProgressBar`` for prerender on the command line
- :mod:`~coreswitch.media.wavfile`    WAV header checks
- :mod:`~coreswitch.media.errors`     the exception tree

Nothing here synthesises speech on the event loop: engines run on the cache's worker thread.
"""
