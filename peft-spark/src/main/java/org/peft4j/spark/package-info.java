/**
 * Data-parallel adapter training on Apache Spark: {@link org.peft4j.spark.SparkPeft} runs a barrier
 * stage of replicas that average adapter gradients every update over direct connections
 * ({@link org.peft4j.spark.RingAllReduce}), matching one process with the global batch.
 */
package org.peft4j.spark;
