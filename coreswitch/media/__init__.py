"""Media: text-to-speech with a file cache, say-as rules, recordings.

- :mod:`~coreswitch.media.engine`     the ``TtsEngine`` protocol and the pyttsx3/espeak-ng engine
- :mod:`~coreswitch.media.cache`      ``TtsCache``: hash-keyed WAVs, one worker thread, prerender
- :mod:`~coreswitch.media.sayas`      numbers, digits, dates, times, money → speakable text / files
- :mod:`~coreswitch.media.recording`  ``RecordingStore``: where ``record``/``voicemail`` files go
- :mod:`~coreswitch.media.progress`   a terminal progress bar for prerender
- :mod:`~coreswitch.media.wavfile`    WAV header checks
- :mod:`~coreswitch.media.errors`     the exception tree
"""
