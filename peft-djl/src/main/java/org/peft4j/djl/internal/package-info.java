/**
 * Plumbing that peft4j's own packages share: not part of the API, excluded from the Javadoc, and
 * free to change between releases without notice. Nothing here should be used from outside peft4j.
 */
package org.peft4j.djl.internal;
