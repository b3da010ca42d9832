/**
 * What can go wrong when adapter files are written or read that is neither a malformed file nor
 * a plain I/O error: a second process writing the same adapter directory at the same time
 * ({@link org.peft4j.api.io.ConcurrentWriteException}), and a file that is refused before it is
 * read, such as a link that leads out of the adapter directory
 * ({@link org.peft4j.api.io.RefusedFileException}).
 */
package org.peft4j.api.io;
