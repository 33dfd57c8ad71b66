//! What a file's name promises about its content, and whether a sample keeps the promise.
