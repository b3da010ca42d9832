/**
 * Builds the documentation site: the guides rendered from Markdown with a shared menu and footer, the
 * benchmark's results with charts, around the aggregated Javadoc of every module.
 */
package org.peft4j.site;
