package org.peft4j.cli;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.data.chat.ChatDatasets;
import org.peft4j.djl.chat.NamedTemplate;
import org.peft4j.djl.models.bert.BertConfig;
import org.peft4j.djl.models.bert.ClassifierHead;

/**
 * The settings of {@code peft4j train}, bound by Jackson from a YAML file ({@link ConfigFile})
 * with LLaMA-Factory's key names where LLaMA-Factory has the setting. A key left out takes its
 * default here; every value is checked at construction, and a bad one fails with a
 * {@link BadValueException} naming its key. Relative paths are resolved against the directory the
 * command runs in.
 *
 * @param modelNameOrPath {@code model_name_or_path}: a Hugging Face model directory, an ONNX file
 *     (with {@code tokenizer.json} beside it), or {@value #DEFAULT_MODEL} (the default, built in)
 * @param finetuningType {@code finetuning_type}: lora, prefix, prompt, full or freeze (default lora)
 * @param loraRank {@code lora_rank} (default 8)
 * @param loraAlpha {@code lora_alpha} (default 2 x lora_rank, as LLaMA-Factory)
 * @param loraDropout {@code lora_dropout} (default 0)
 * @param loraTarget {@code lora_target}: module names separated by commas, or {@code all}: the default of
 *     the encoder tasks; for {@code stage: sft} left out means PEFT's default for the model type
 *     ({@code q_proj,v_proj} for LLaMA, Mistral and Qwen2, {@code c_attn} for GPT-2)
 * @param numVirtualTokens {@code num_virtual_tokens} for prefix and prompt (default 16)
 * @param prefixProjection {@code prefix_projection}: train the prefix through an MLP (default false)
 * @param promptTuningInitText {@code prompt_tuning_init_text}: start the prompt from this text's embeddings
 * @param freezeTrainableLayers {@code freeze_trainable_layers}: the last layers that train with
 *     {@code freeze} (default 2)
 * @param dataset {@code dataset}: a .tsv, .csv or .jsonl file with a text and a label column (required)
 * @param textColumn {@code text_column} (default text)
 * @param labelColumn {@code label_column} (default label)
 * @param splitColumn {@code split_column} (default split): rows marked train, dev (or validation,
 *     eval) and test; if the file has no such column every row trains, less {@code val_size}
 * @param valSize {@code val_size} (default 0.1): the share of the training rows held out as dev
 *     data when the file has no dev rows
 * @param maxSamples {@code max_samples}: use a seeded random sample of at most this many rows of
 *     each split (train, dev and test), as LLaMA-Factory caps each dataset; null for all
 * @param outputDir {@code output_dir} (required)
 * @param numTrainEpochs {@code num_train_epochs} (default 2)
 * @param learningRate {@code learning_rate} (default: the method's own,
 *     {@link org.peft4j.api.PeftMethod#defaultLearningRate()}: lora 2e-3, prompt 1e-2, prefix 5e-4;
 *     full and freeze 5e-5)
 * @param perDeviceTrainBatchSize {@code per_device_train_batch_size} (default 16)
 * @param gradientAccumulationSteps {@code gradient_accumulation_steps} (default 1)
 * @param cutoffLen {@code cutoff_len}: the longest token sequence (default 128)
 * @param warmupRatio {@code warmup_ratio} (default 0.1)
 * @param lrSchedulerType {@code lr_scheduler_type}: linear (the default), cosine or constant
 * @param weightDecay {@code weight_decay} (default 0)
 * @param maxGradNorm {@code max_grad_norm} (default 1)
 * @param loggingSteps {@code logging_steps} (default 10)
 * @param seed {@code seed} (default 42)
 * @param plotLoss {@code plot_loss}: write {@code training_loss.png} (default true)
 * @param classifierHead {@code classifier_head} (peft4j's own key): {@code pooler}, the default,
 *     computes what Python's {@code BertForSequenceClassification} computes (pooler on the first
 *     position); {@code mean_pooling} mean-pools the real tokens as sentence-transformers does
 * @param pissaInit {@code pissa_init}: start LoRA with PiSSA, from the principal singular triplets
 *     of each adapted weight (default false)
 * @param pissaIter {@code pissa_iter}: the subspace iterations of PiSSA's randomized SVD
 *     ({@code init_lora_weights: pissa_niter_N}); -1 for the exact SVD (default 16, as LLaMA-Factory)
 * @param pissaConvert {@code pissa_convert}: also write the trained PiSSA adapter converted to plain
 *     LoRA for the original base, in {@code output_dir/pissa_converted} (default false)
 * @param useDora {@code use_dora}: train a DoRA adapter, LoRA with a trained magnitude per output
 *     row (default false; lora only)
 * @param useRslora {@code use_rslora}: scale by lora_alpha / sqrt(lora_rank) instead of
 *     lora_alpha / lora_rank (default false; lora only)
 * @param loraplusLrRatio {@code loraplus_lr_ratio}: LoRA+, the B matrices (and 1-D parameters) learn
 *     at this multiple of learning_rate (default none; lora only)
 * @param adapterNameOrPath {@code adapter_name_or_path}: adapter directories separated by commas,
 *     as LLaMA-Factory takes them: every one but the last is merged into the base, and the last
 *     trains further with its own settings (its rank, targets, ...); with {@code create_new_adapter}
 *     every one is merged and a new adapter trains (default none)
 * @param createNewAdapter {@code create_new_adapter}: merge every adapter of
 *     {@code adapter_name_or_path} into the base and train a new one (default false)
 * @param taskType {@code task_type}, PEFT's name of the task: {@code SEQ_CLS} (the default), text
 *     classification from {@code text_column} and {@code label_column}; {@code TOKEN_CLS}, tagging
 *     each word (such as named-entity recognition) from a CoNLL or JSON Lines {@code dataset};
 *     {@code FEATURE_EXTRACTION}, sentence embeddings trained on (anchor, positive) pairs with
 *     in-batch negatives, reporting retrieval (recall@1, recall@10, MRR@10)
 * @param positiveColumn {@code positive_column} (peft4j's own; FEATURE_EXTRACTION): the column of
 *     each pair's positive, {@code text_column} being the anchor's (default positive)
 * @param pairSeparator {@code pair_separator} (peft4j's own; FEATURE_EXTRACTION): instead of two
 *     columns, split each text of {@code text_column} at the first occurrence of this string into
 *     anchor and positive, skipping texts with an empty side (such as {@code " | "} for the bundled
 *     spam data's {@code subject | body})
 * @param stage {@code stage}: {@code sft}, supervised fine-tuning of a causal language model
 *     (LLaMA-Factory's stage; sets {@code task_type: CAUSAL_LM}); left out for the encoder tasks
 * @param template {@code template}: a chat format LLaMA-Factory names ({@link NamedTemplate}: alpaca,
 *     chatml, default, empty, llama3, qwen); left out, the model's own chat template
 *     ({@code tokenizer_config.json}'s {@code chat_template})
 * @param formatting {@code formatting}: the dataset's format for {@code stage: sft}, {@code alpaca}
 *     (the default) or {@code sharegpt}, as LLaMA-Factory's {@code dataset_info.json} names them
 * @param trainOnPrompt {@code train_on_prompt}: learn the prompt tokens too, not only the answers
 *     (default false)
 * @param sparkMaster {@code spark_master} (peft4j's own): train data-parallel on Apache Spark with this
 *     master ({@code local[2]}, {@code spark://host:7077}, ...), reading {@code dataset} with Spark;
 *     text classification with an adapter only (default none: one process)
 * @param sparkWorkers {@code spark_workers}: the replicas, one barrier task each (default: N of
 *     {@code local[N]}; required for other masters)
 * @param syncEvery {@code sync_every}: 1 (the default) averages gradients before every update, one
 *     process's training exactly; K > 1 averages weights every K updates instead (local SGD)
 * @param saveSteps {@code save_steps}: the updates between checkpoints (default 500, as in Hugging
 *     Face's trainer; 0: none): {@code checkpoint-N} directories in {@code output_dir} (the training
 *     state and the adapter), or with {@code spark_master} the replicas' states, from which a stage
 *     Spark retries after a task failed resumes
 * @param sparkCheckpointDir {@code spark_checkpoint_dir}: where those checkpoints go, a directory or
 *     Hadoop URI every executor reaches ({@code hdfs://...}, {@code s3a://...}); default
 *     {@code <output_dir>/spark_checkpoints} with a local master, required with a cluster's
 * @param resumeFromCheckpoint {@code resume_from_checkpoint} (Hugging Face's): a {@code checkpoint-N}
 *     directory of an earlier run with the same config, which this run continues from, ending with
 *     the adapter the earlier run would have ended with (one process only)
 */
public record TrainArguments(
        @JsonProperty("model_name_or_path") String modelNameOrPath,
        @JsonProperty("finetuning_type") String finetuningType,
        @JsonProperty("lora_rank") Integer loraRank,
        @JsonProperty("lora_alpha") Double loraAlpha,
        @JsonProperty("lora_dropout") Double loraDropout,
        @JsonProperty("lora_target") String loraTarget,
        @JsonProperty("num_virtual_tokens") Integer numVirtualTokens,
        @JsonProperty("prefix_projection") Boolean prefixProjection,
        @JsonProperty("prompt_tuning_init_text") String promptTuningInitText,
        @JsonProperty("freeze_trainable_layers") Integer freezeTrainableLayers,
        @JsonProperty("dataset") String dataset,
        @JsonProperty("text_column") String textColumn,
        @JsonProperty("label_column") String labelColumn,
        @JsonProperty("split_column") String splitColumn,
        @JsonProperty("val_size") Double valSize,
        @JsonProperty("max_samples") Integer maxSamples,
        @JsonProperty("output_dir") String outputDir,
        @JsonProperty("num_train_epochs") Integer numTrainEpochs,
        @JsonProperty("learning_rate") Double learningRate,
        @JsonProperty("per_device_train_batch_size") Integer perDeviceTrainBatchSize,
        @JsonProperty("gradient_accumulation_steps") Integer gradientAccumulationSteps,
        @JsonProperty("cutoff_len") Integer cutoffLen,
        @JsonProperty("warmup_ratio") Double warmupRatio,
        @JsonProperty("lr_scheduler_type") String lrSchedulerType,
        @JsonProperty("weight_decay") Double weightDecay,
        @JsonProperty("max_grad_norm") Double maxGradNorm,
        @JsonProperty("logging_steps") Integer loggingSteps,
        @JsonProperty("seed") Integer seed,
        @JsonProperty("plot_loss") Boolean plotLoss,
        @JsonProperty("classifier_head") String classifierHead,
        @JsonProperty("pissa_init") Boolean pissaInit,
        @JsonProperty("pissa_iter") Integer pissaIter,
        @JsonProperty("pissa_convert") Boolean pissaConvert,
        @JsonProperty("use_dora") Boolean useDora,
        @JsonProperty("use_rslora") Boolean useRslora,
        @JsonProperty("loraplus_lr_ratio") Double loraplusLrRatio,
        @JsonProperty("adapter_name_or_path") String adapterNameOrPath,
        @JsonProperty("create_new_adapter") Boolean createNewAdapter,
        @JsonProperty("task_type") String taskType,
        @JsonProperty("positive_column") String positiveColumn,
        @JsonProperty("pair_separator") String pairSeparator,
        @JsonProperty("stage") String stage,
        @JsonProperty("template") String template,
        @JsonProperty("formatting") String formatting,
        @JsonProperty("train_on_prompt") Boolean trainOnPrompt,
        @JsonProperty("spark_master") String sparkMaster,
        @JsonProperty("spark_workers") Integer sparkWorkers,
        @JsonProperty("sync_every") Integer syncEvery,
        @JsonProperty("save_steps") Integer saveSteps,
        @JsonProperty("spark_checkpoint_dir") String sparkCheckpointDir,
        @JsonProperty("resume_from_checkpoint") String resumeFromCheckpoint) {

    /** The built-in model: all-MiniLM-L6-v2, from its Maven artifact. */
    public static final String DEFAULT_MODEL = "all-MiniLM-L6-v2";

    /** The second built-in model: bge-small-en-v1.5, from its Maven artifact. */
    public static final String BGE_SMALL_MODEL = "bge-small-en-v1.5";

    /** The {@code finetuning_type}s that train the model's own weights rather than an adapter. */
    public static final List<String> WHOLE_MODEL_METHODS = List.of("full", "freeze");

    /** The learning rate of full and freeze tuning unless set. */
    private static final double WHOLE_MODEL_LEARNING_RATE = 5e-5;

    /**
     * The methods {@code finetuning_type} names: every registered PEFT method
     * ({@link PeftMethods#finetuningTypes()}), then full and freeze.
     */
    public static final List<String> METHODS = java.util.stream.Stream.concat(
            PeftMethods.finetuningTypes().stream(), WHOLE_MODEL_METHODS.stream()).toList();

    /** The tasks {@code task_type} names, as PEFT's {@code TaskType} does. */
    public static final List<String> TASK_TYPES = List.of("SEQ_CLS", "TOKEN_CLS", "FEATURE_EXTRACTION", "CAUSAL_LM");

    /** Spark's local master with N threads (and optionally F task failures): {@code local[N]}, {@code local[N,F]}. */
    private static final Pattern LOCAL_MASTER = Pattern.compile("local\\[(\\d+)(,\\d+)?]");

    /** The schedules {@code lr_scheduler_type} names; constant_with_warmup is constant after the warm-up. */
    public static final List<String> SCHEDULERS = List.of("linear", "cosine", "constant", "constant_with_warmup");

    /** A value that is missing or out of range, with the key it belongs to. */
    public static final class BadValueException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        private final String key;

        /** A bad value of {@code key}; {@code message} says what it must be. */
        public BadValueException(String key, String message) {
            super(message);
            this.key = key;
        }

        /** The key whose value is bad. */
        public String key() {
            return key;
        }
    }

    /** Fills in the defaults and checks every value, naming the first bad one. */
    public TrainArguments {
        modelNameOrPath = modelNameOrPath != null ? modelNameOrPath : DEFAULT_MODEL;
        finetuningType = (finetuningType != null ? finetuningType : "lora").toLowerCase(Locale.ROOT);
        if (!METHODS.contains(finetuningType)) {
            throw new BadValueException("finetuning_type", "finetuning_type must be one of " + METHODS + ", got "
                    + org.peft4j.api.internal.Excerpt.quote(finetuningType));
        }
        loraRank = positive("lora_rank", loraRank, 8);
        loraAlpha = finite("lora_alpha", loraAlpha != null ? loraAlpha : 2.0 * loraRank);
        if (!(loraAlpha > 0)) {
            throw new BadValueException("lora_alpha", "lora_alpha must be a positive number, got " + loraAlpha);
        }
        loraDropout = finite("lora_dropout", loraDropout != null ? loraDropout : 0.0);
        if (!(loraDropout >= 0 && loraDropout < 1)) {
            throw new BadValueException("lora_dropout", "lora_dropout must be in [0, 1), got " + loraDropout);
        }
        // left out: every linear layer of an encoder; for stage sft, PEFT's default for the model type (see loraTargets)
        loraTarget = loraTarget != null ? loraTarget : stage != null || "CAUSAL_LM".equalsIgnoreCase(taskType) ? "" : "all";
        numVirtualTokens = positive("num_virtual_tokens", numVirtualTokens, 16);
        prefixProjection = prefixProjection != null && prefixProjection;
        freezeTrainableLayers = positive("freeze_trainable_layers", freezeTrainableLayers, 2);
        if (dataset == null) {
            throw new BadValueException("dataset", "missing required key \"dataset\"");
        }
        if (dataset.isBlank()) {
            throw new BadValueException("dataset", "dataset must name a file, got \"" + dataset + "\"");
        }
        textColumn = textColumn != null ? textColumn : "text";
        labelColumn = labelColumn != null ? labelColumn : "label";
        splitColumn = splitColumn != null ? splitColumn : "split";
        valSize = finite("val_size", valSize != null ? valSize : 0.1);
        if (!(valSize >= 0 && valSize < 1)) {
            throw new BadValueException("val_size", "val_size must be in [0, 1), got " + valSize);
        }
        if (maxSamples != null) {
            positive("max_samples", maxSamples, null);
        }
        if (outputDir == null) {
            throw new BadValueException("output_dir", "missing required key \"output_dir\"");
        }
        if (outputDir.isBlank()) {
            throw new BadValueException("output_dir", "output_dir must name a directory, got \"" + outputDir + "\"");
        }
        numTrainEpochs = positive("num_train_epochs", numTrainEpochs, 2);
        learningRate = finite("learning_rate", learningRate != null ? learningRate
                : WHOLE_MODEL_METHODS.contains(finetuningType) ? WHOLE_MODEL_LEARNING_RATE
                : PeftMethods.forFinetuningType(finetuningType).defaultLearningRate());
        if (!(learningRate > 0)) {
            throw new BadValueException("learning_rate", "learning_rate must be a positive number, got " + learningRate);
        }
        perDeviceTrainBatchSize = positive("per_device_train_batch_size", perDeviceTrainBatchSize, 16);
        gradientAccumulationSteps = positive("gradient_accumulation_steps", gradientAccumulationSteps, 1);
        cutoffLen = cutoffLen != null ? cutoffLen : 128;
        if (cutoffLen < 2) {
            throw new BadValueException("cutoff_len", "cutoff_len must be at least 2, got " + cutoffLen);
        }
        warmupRatio = finite("warmup_ratio", warmupRatio != null ? warmupRatio : 0.1);
        if (!(warmupRatio >= 0 && warmupRatio < 1)) {
            throw new BadValueException("warmup_ratio", "warmup_ratio must be in [0, 1), got " + warmupRatio);
        }
        lrSchedulerType = (lrSchedulerType != null ? lrSchedulerType : "linear").toLowerCase(Locale.ROOT);
        if (!SCHEDULERS.contains(lrSchedulerType)) {
            throw new BadValueException("lr_scheduler_type", "lr_scheduler_type must be linear, cosine or constant, got \""
                    + lrSchedulerType + "\"");
        }
        weightDecay = finite("weight_decay", weightDecay != null ? weightDecay : 0.0);
        if (!(weightDecay >= 0)) {
            throw new BadValueException("weight_decay", "weight_decay must be a number >= 0, got " + weightDecay);
        }
        maxGradNorm = finite("max_grad_norm", maxGradNorm != null ? maxGradNorm : 1.0);
        if (!(maxGradNorm >= 0)) {
            throw new BadValueException("max_grad_norm", "max_grad_norm must be a number >= 0 (0: no clipping), got "
                    + maxGradNorm);
        }
        loggingSteps = positive("logging_steps", loggingSteps, 10);
        seed = seed != null ? seed : 42;
        plotLoss = plotLoss == null || plotLoss;
        classifierHead = classifierHead != null ? classifierHead : ClassifierHead.POOLER.recordedName();
        try {
            ClassifierHead.fromRecordedName(classifierHead);
        } catch (IllegalArgumentException e) {
            throw new BadValueException("classifier_head", "classifier_head must be pooler or mean_pooling, got "
                    + org.peft4j.api.internal.Excerpt.quote(classifierHead));
        }
        pissaInit = loraOnly("pissa_init", pissaInit != null && pissaInit, finetuningType);
        pissaIter = pissaIter != null ? pissaIter : 16;
        if (pissaIter < -1) {
            throw new BadValueException("pissa_iter", "pissa_iter must be -1 (exact SVD) or a number of iterations >= 0, got "
                    + pissaIter);
        }
        pissaConvert = pissaConvert != null && pissaConvert;
        if (pissaConvert && !pissaInit) {
            throw new BadValueException("pissa_convert", "pissa_convert converts a PiSSA adapter; set pissa_init: true too");
        }
        useDora = loraOnly("use_dora", useDora != null && useDora, finetuningType);
        useRslora = loraOnly("use_rslora", useRslora != null && useRslora, finetuningType);
        if (loraplusLrRatio != null) {
            loraOnly("loraplus_lr_ratio", true, finetuningType);
            if (!(finite("loraplus_lr_ratio", loraplusLrRatio) > 0)) {
                throw new BadValueException("loraplus_lr_ratio", "loraplus_lr_ratio must be a positive number, got "
                        + loraplusLrRatio);
            }
        }
        if (adapterNameOrPath != null) {
            if (WHOLE_MODEL_METHODS.contains(finetuningType)) {
                throw new BadValueException("adapter_name_or_path", "adapter_name_or_path continues training an adapter,"
                        + " and finetuning_type " + finetuningType + " trains the model's own weights");
            }
            if (adapterNameOrPath.isBlank() || adapterNameOrPath.contains(",,") || adapterNameOrPath.strip().startsWith(",")
                    || adapterNameOrPath.strip().endsWith(",")) {
                throw new BadValueException("adapter_name_or_path", "adapter_name_or_path must name adapter directories"
                        + " separated by commas, got " + org.peft4j.api.internal.Excerpt.quote(adapterNameOrPath));
            }
        }
        createNewAdapter = createNewAdapter != null && createNewAdapter;
        if (pissaInit && adapterNameOrPath != null && !createNewAdapter) {
            throw new BadValueException("pissa_init", "pissa_init starts a new adapter from the base's weights, and"
                    + " adapter_name_or_path continues an existing one; set create_new_adapter: true to merge it first");
        }
        if (createNewAdapter && adapterNameOrPath == null) {
            throw new BadValueException("create_new_adapter", "create_new_adapter merges the adapters of"
                    + " adapter_name_or_path into the base before a new one trains, and adapter_name_or_path is not set");
        }
        if (stage != null) {
            stage = stage.strip().toLowerCase(Locale.ROOT);
            if (!stage.equals("sft")) {
                throw new BadValueException("stage", "stage must be sft (supervised fine-tuning of a causal language"
                        + " model); LLaMA-Factory's pt, rm, ppo, dpo and kto are not supported, got "
                        + org.peft4j.api.internal.Excerpt.quote(stage));
            }
            if (taskType != null && !taskType.equalsIgnoreCase("CAUSAL_LM")) {
                throw new BadValueException("task_type", "stage sft trains a causal language model (task_type"
                        + " CAUSAL_LM), not " + taskType);
            }
            taskType = "CAUSAL_LM";
        }
        taskType = (taskType != null ? taskType : "SEQ_CLS").toUpperCase(Locale.ROOT);
        if (!TASK_TYPES.contains(taskType)) {
            throw new BadValueException("task_type", "task_type must be one of " + TASK_TYPES + ", got "
                    + org.peft4j.api.internal.Excerpt.quote(taskType));
        }
        if (taskType.equals("CAUSAL_LM")) {
            stage = "sft";
            if (adapterNameOrPath != null) {
                throw new BadValueException("adapter_name_or_path", "adapter_name_or_path is not supported with stage sft"
                        + " yet");
            }
            if (template != null) {
                try {
                    NamedTemplate.of(template);
                } catch (IllegalArgumentException e) {
                    throw new BadValueException("template", e.getMessage());
                }
            }
            formatting = formatting != null ? formatting : "alpaca";
            try {
                ChatDatasets.Format.of(formatting);
            } catch (IllegalArgumentException e) {
                throw new BadValueException("formatting", e.getMessage());
            }
        } else {
            for (String[] key : new String[][] {{"template", template}, {"formatting", formatting}}) {
                if (key[1] != null) {
                    throw new BadValueException(key[0], key[0] + " applies to stage sft (task_type CAUSAL_LM), not to"
                            + " task_type " + taskType);
                }
            }
        }
        trainOnPrompt = trainOnPrompt != null && trainOnPrompt;
        syncEvery = positive("sync_every", syncEvery, 1);
        saveSteps = saveSteps == null ? 500 : saveSteps;
        if (saveSteps < 0) {
            throw new BadValueException("save_steps", "save_steps must be >= 0 (0: no checkpoints), got " + saveSteps);
        }
        if (resumeFromCheckpoint != null && resumeFromCheckpoint.isBlank()) {
            throw new BadValueException("resume_from_checkpoint", "resume_from_checkpoint must name a checkpoint-N"
                    + " directory");
        }
        if (sparkMaster != null) {
            if (sparkMaster.isBlank()) {
                throw new BadValueException("spark_master", "spark_master must name a Spark master, such as local[2] or"
                        + " spark://host:7077");
            }
            if (!taskType.equals("SEQ_CLS") || WHOLE_MODEL_METHODS.contains(finetuningType)) {
                throw new BadValueException("spark_master", "spark_master trains text classification (task_type SEQ_CLS)"
                        + " with an adapter; not task_type " + taskType + " with finetuning_type " + finetuningType);
            }
            if (pissaInit) {
                throw new BadValueException("pissa_init", "pissa_init is not supported with spark_master yet");
            }
            if (adapterNameOrPath != null && (createNewAdapter || adapterNameOrPath.contains(","))) {
                throw new BadValueException("adapter_name_or_path", "with spark_master, adapter_name_or_path names one"
                        + " adapter that trains further (no create_new_adapter, no adapters merged first)");
            }
            Matcher local = LOCAL_MASTER.matcher(sparkMaster.strip());
            sparkWorkers = sparkWorkers != null ? positive("spark_workers", sparkWorkers, null)
                    : local.matches() ? Integer.valueOf(local.group(1)) : null;
            if (sparkWorkers == null) {
                throw new BadValueException("spark_workers", "spark_workers must be set for spark_master " + sparkMaster
                        + ": the number of replicas, each one task slot");
            }
            if (resumeFromCheckpoint != null) {
                throw new BadValueException("resume_from_checkpoint", "resume_from_checkpoint is for one-process runs:"
                        + " with spark_master a retried stage resumes from spark_checkpoint_dir by itself");
            }
            if (sparkCheckpointDir == null && saveSteps > 0) {
                if (!sparkMaster.strip().startsWith("local")) {
                    throw new BadValueException("spark_checkpoint_dir", "with spark_master " + sparkMaster + " the"
                            + " checkpoints of save_steps must go where every executor reaches: set spark_checkpoint_dir"
                            + " (hdfs://..., s3a://..., a shared disk), or save_steps: 0 for none");
                }
                sparkCheckpointDir = Path.of(outputDir, "spark_checkpoints").toAbsolutePath().toUri().toString();
            }
        } else if (sparkWorkers != null) {
            throw new BadValueException("spark_workers", "spark_workers applies with spark_master");
        } else if (sparkCheckpointDir != null) {
            throw new BadValueException("spark_checkpoint_dir", "spark_checkpoint_dir applies with spark_master; a"
                    + " one-process run writes its checkpoints into output_dir");
        }
        positiveColumn = positiveColumn != null ? positiveColumn : "positive";
        if (pairSeparator != null && pairSeparator.isEmpty()) {
            throw new BadValueException("pair_separator", "pair_separator must not be empty");
        }
        if (taskType.equals("FEATURE_EXTRACTION")) {
            if (WHOLE_MODEL_METHODS.contains(finetuningType)) {
                throw new BadValueException("finetuning_type", "task_type FEATURE_EXTRACTION trains an adapter"
                        + " (lora, prefix, prompt, ...), not " + finetuningType);
            }
            if (adapterNameOrPath != null) {
                throw new BadValueException("adapter_name_or_path", "adapter_name_or_path is not supported with"
                        + " task_type FEATURE_EXTRACTION yet");
            }
        }
    }

    /** {@code value}, or an error if it is set for a method other than lora. */
    private static Boolean loraOnly(String key, boolean value, String finetuningType) {
        if (value && !finetuningType.equals("lora")) {
            throw new BadValueException(key, key + " applies to finetuning_type lora, not " + finetuningType);
        }
        return value;
    }

    private static Integer positive(String key, Integer value, Integer defaultValue) {
        Integer v = value != null ? value : defaultValue;
        if (v <= 0) {
            throw new BadValueException(key, key + " must be a positive integer, got " + v);
        }
        return v;
    }

    private static Double finite(String key, Double value) {
        if (!Double.isFinite(value)) {
            throw new BadValueException(key, key + " must be a finite number, got " + value);
        }
        return value;
    }

    /** Every key with what its value must be, in the order the documentation lists them. */
    private static final Map<String, String> KEYS = new LinkedHashMap<>();

    static {
        for (RecordComponent c : TrainArguments.class.getRecordComponents()) {
            Class<?> type = c.getType();
            KEYS.put(c.getAccessor().getAnnotation(JsonProperty.class).value(), type == Integer.class ? "a whole number"
                    : type == Double.class ? "a number" : type == Boolean.class ? "true or false" : "a string");
        }
    }

    /** The known keys, in the order the documentation lists them. */
    public static List<String> knownKeys() {
        return List.copyOf(KEYS.keySet());
    }

    /** What the value of {@code key} must be: a whole number, a number, true or false, or a string. */
    static String expected(String key) {
        return KEYS.get(key);
    }

    /** The known key with the smallest edit distance to {@code key}. */
    static String closest(String key) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String known : KEYS.keySet()) {
            int d = editDistance(key, known);
            if (d < bestDistance) {
                best = known;
                bestDistance = d;
            }
        }
        return best;
    }

    private static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] t = previous;
            previous = current;
            current = t;
        }
        return previous[b.length()];
    }

    /** The dataset file. */
    public Path datasetFile() {
        return Path.of(dataset);
    }

    /** The output directory. */
    public Path outputDirectory() {
        return Path.of(outputDir);
    }

    /**
     * The LoRA target names: {@code all} means every linear layer (a language model's {@code lm_head}
     * left out, as PEFT's {@code all-linear}); empty when {@code lora_target} is left out for
     * {@code stage: sft}, where PEFT's default for the model type applies.
     */
    public List<String> loraTargets() {
        List<String> out = new ArrayList<>();
        for (String part : loraTarget.split(",")) {
            if (!part.isBlank()) {
                out.add(part.trim());
            }
        }
        return out;
    }

    /** The checkpoint directory this run continues from, or null. */
    public Path resumedCheckpoint() {
        return resumeFromCheckpoint == null ? null : Path.of(resumeFromCheckpoint);
    }

    /** The directories of {@code adapter_name_or_path}, in order; empty if it is not set. */
    public List<Path> adapterPaths() {
        List<Path> out = new ArrayList<>();
        if (adapterNameOrPath != null) {
            for (String part : adapterNameOrPath.split(",")) {
                out.add(Path.of(part.strip()));
            }
        }
        return out;
    }

    /**
     * The directories of {@code adapter_name_or_path} that are merged into the base before training:
     * all of them with {@code create_new_adapter}, else all but the last, which trains further.
     */
    public List<Path> mergedAdapterPaths() {
        List<Path> all = adapterPaths();
        return createNewAdapter || all.isEmpty() ? all : all.subList(0, all.size() - 1);
    }

    /** The adapter of {@code adapter_name_or_path} that trains further, or null for a new adapter. */
    public Path resumedAdapterPath() {
        List<Path> all = adapterPaths();
        return createNewAdapter || all.isEmpty() ? null : all.get(all.size() - 1);
    }

    /** Whether the method trains an adapter (lora, prefix, prompt) rather than the model's own weights. */
    public boolean trainsAdapter() {
        return !WHOLE_MODEL_METHODS.contains(finetuningType);
    }

    /**
     * Checks the values that depend on the model, once its config is known and before anything is
     * built from them: the token limit (with the virtual tokens of prefix and prompt) against the
     * position table, the LoRA rank against the layers' dimensions, and the layers freeze tuning
     * trains against the model's layers.
     *
     * @param model names the model in messages
     * @throws BadValueException naming the key whose value the model cannot take
     */
    public void checkFits(BertConfig config, String model) {
        checkFits(config.maxPositionEmbeddings(), config.hiddenSize(), config.numHiddenLayers(), model);
    }

    /**
     * Checks the values that depend on the model (see {@link #checkFits(BertConfig, String)}) for
     * an encoder of any family.
     *
     * @param maxTokens the longest input the position table holds, virtual tokens included
     * @param hiddenSize the encoder's hidden size
     * @param numLayers the encoder's number of layers
     * @param model names the model in messages
     * @throws BadValueException naming the key whose value the model cannot take
     */
    public void checkFits(int maxTokens, int hiddenSize, int numLayers, String model) {
        boolean virtualTokens = trainsAdapter() && PeftMethods.forFinetuningType(finetuningType).isPromptLearning();
        long positions = cutoffLen + (virtualTokens ? (long) numVirtualTokens : 0);
        if (positions > maxTokens) {
            String key = virtualTokens && cutoffLen <= maxTokens ? "num_virtual_tokens" : "cutoff_len";
            throw new BadValueException(key, "cutoff_len " + cutoffLen + (virtualTokens ? " + num_virtual_tokens "
                    + numVirtualTokens : "") + " is more than the " + maxTokens
                    + " positions " + model + " has (max_position_embeddings)");
        }
        // every linear layer of these encoders maps from or to hidden_size: min(in, out) <= hidden_size
        if (finetuningType.equals("lora") && loraRank > hiddenSize) {
            throw new BadValueException("lora_rank", "lora_rank " + loraRank + " is larger than the layers it adapts: "
                    + model + " has hidden size " + hiddenSize + ", and a rank above min(in, out) of a"
                    + " layer adds weights and no expressiveness");
        }
        if (finetuningType.equals("freeze") && freezeTrainableLayers > numLayers) {
            throw new BadValueException("freeze_trainable_layers", "freeze_trainable_layers " + freezeTrainableLayers
                    + " is more than the " + numLayers + " layers " + model + " has");
        }
    }

    /** The classification head {@code classifier_head} names. */
    public ClassifierHead head() {
        return ClassifierHead.fromRecordedName(classifierHead);
    }

    /**
     * The base model's name as adapter files record it ({@code base_model_name_or_path}): the
     * built-in model under its Hugging Face hub id, so that Python loads the same base; a path as
     * given.
     */
    public String baseModelName() {
        return TrainedModel.isBuiltIn(modelNameOrPath) ? TrainedModel.BUILT_IN_HUB_ID
                : TrainedModel.isBgeSmall(modelNameOrPath) ? TrainedModel.BGE_SMALL_HUB_ID : modelNameOrPath;
    }

    /** Whether the run fine-tunes a causal language model ({@code stage: sft}, {@code task_type: CAUSAL_LM}). */
    public boolean isSft() {
        return taskType.equals("CAUSAL_LM");
    }

    /** The chat format {@code template} names, or null for the model's own. */
    public NamedTemplate namedTemplate() {
        return template != null ? NamedTemplate.of(template) : null;
    }

    /** Whether the run trains sentence embeddings on pairs ({@code task_type: FEATURE_EXTRACTION}). */
    public boolean isFeatureExtraction() {
        return taskType.equals("FEATURE_EXTRACTION");
    }
}
