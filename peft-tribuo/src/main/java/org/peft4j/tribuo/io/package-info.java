/**
 * Reading Tribuo model files that may come from elsewhere: {@link org.peft4j.tribuo.io.ModelReader}
 * checks every class name a Java-serialized or protobuf file would load against an allow-list
 * before anything is loaded, and refuses others with a
 * {@link org.peft4j.tribuo.io.DisallowedClassException}.
 */
package org.peft4j.tribuo.io;
