package org.peft4j.tribuo.io;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.oracle.labs.mlrg.olcut.config.protobuf.protos.OlcutProto;
import com.oracle.labs.mlrg.olcut.config.protobuf.protos.SimpleProvenanceProto;
import com.oracle.labs.mlrg.olcut.provenance.primitives.EnumProvenance;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.peft4j.tribuo.internal.BytesMessage;
import org.tribuo.Model;
import org.tribuo.protos.core.ModelProto;

/**
 * Reads serialized Tribuo models (peft4j's and the stock models they are built on) without
 * letting the file choose which code runs. Both of Tribuo's formats name classes: Java
 * serialization instantiates whatever class the stream names (running its {@code readObject}),
 * and Tribuo's protobuf format loads and initializes the class in every {@code class_name} (and
 * OLCUT's provenance does the same for its class names). This reader checks each name against an
 * allow-list first:
 * <ul>
 *   <li>{@link #readProto} walks the whole message tree (nested models, metadata, provenance)
 *       and checks every class name before Tribuo's {@code Model.deserialize} sees it;</li>
 *   <li>{@link #readJava} reads through {@link #javaFilter()}, a {@link ObjectInputFilter} that
 *       rejects any other class before it is loaded.</li>
 * </ul>
 * peft4j's models also check their nested parts themselves, so a {@code LoraSgdModel} read with
 * Tribuo's own {@code Model.deserializeFromFile} still refuses a hostile base model; the
 * top-level class name of such a file, though, is Tribuo's to load, so read untrusted files here.
 *
 * <p>The allow-list builds on Tribuo's own JEP 290 filter ({@code docs/jep-290-filter.txt} in
 * Tribuo's repository: Tribuo, OLCUT's provenance and utilities, basic JDK types), narrowed to
 * the JDK types models hold ({@code java.net.URL} is left out: a {@code HashMap} keyed by URLs
 * makes DNS lookups while it is read) and widened by peft4j's model classes. More entries can
 * be added with the system property {@value #ALLOWED_CLASSES_PROPERTY}: entries separated by
 * {@code ;}, each a class name, {@code pkg.*} (the classes of a package), {@code pkg.**} (a
 * package and its subpackages) or {@code prefix*}, as in {@code jdk.serialFilter}.
 *
 * <p>The protobuf check knows the message types of the Tribuo modules peft-tribuo depends on
 * (core, math, SGD, classification, regression, multi-label) and peft4j's own; a message of any
 * other type cannot be checked and is refused.
 */
public final class ModelReader {
    /** The system property with more allowed classes or packages, separated by {@code ;}. */
    public static final String ALLOWED_CLASSES_PROPERTY = "peft4j.tribuo.allowedClasses";

    /** The built-in allow-list, in the pattern syntax of {@code jdk.serialFilter} (allow entries only). */
    static final List<String> BUILT_IN = List.of(
            // peft4j's models, the parts they serialize, and the trainers and enums their provenance names
            "org.peft4j.tribuo.lora.LoraSgdModel", "org.peft4j.tribuo.lora.LoraParameters",
            "org.peft4j.tribuo.lora.LoraSgdTrainer", "org.peft4j.tribuo.sgd.WarmStartTrainer",
            "org.peft4j.tribuo.sgd.AlignedDomain", "org.peft4j.tribuo.sgd.AlignedDomain$NewFeatures",
            "org.peft4j.tribuo.sgd.SgdModelFamily$Weights", "org.peft4j.tribuo.text.TextPeftModel",
            "org.peft4j.tribuo.text.TextPeftTrainer", "org.peft4j.djl.models.bert.PretrainedEncoder",
            "org.peft4j.tribuo.tagging.TaggingPeftModel", "org.peft4j.tribuo.tagging.TaggingPeftTrainer",
            "org.peft4j.djl.models.bert.PretrainedEncoder$Kind", "org.peft4j.djl.train.LearningRateSchedule$Kind",
            "org.peft4j.api.lora.LoraBias", "org.peft4j.api.lora.LoraInit",
            // Tribuo and OLCUT, as Tribuo's own filter allows them
            "org.tribuo.**", "com.oracle.labs.mlrg.olcut.provenance.**", "com.oracle.labs.mlrg.olcut.util.*",
            // the JDK types that models and provenance hold
            "java.lang.String", "java.lang.Boolean", "java.lang.Byte", "java.lang.Character", "java.lang.Short",
            "java.lang.Integer", "java.lang.Long", "java.lang.Float", "java.lang.Double", "java.lang.Number",
            "java.lang.Enum", "java.lang.Object", "java.util.*", "java.time.*", "java.io.File");

    /** The fields of Tribuo's and OLCUT's messages whose values are loaded as classes. */
    private static final Set<String> CLASS_NAME_FIELDS = Set.of("class_name", "object_class_name",
            "provenance_class_name");
    private static final String ANY = "google.protobuf.Any";
    private static final int MAX_DEPTH = 100;
    private static final Map<String, Descriptor> KNOWN_TYPES = knownTypes();

    private ModelReader() {}

    private static Map<String, Descriptor> knownTypes() {
        Map<String, Descriptor> types = new HashMap<>();
        Set<String> files = new HashSet<>();
        for (FileDescriptor file : List.of(OlcutProto.getDescriptor(),
                org.tribuo.protos.core.TribuoCore.getDescriptor(), org.tribuo.protos.core.TribuoCoreImpl.getDescriptor(),
                org.tribuo.math.protos.TribuoMath.getDescriptor(), org.tribuo.math.protos.TribuoMathImpl.getDescriptor(),
                org.tribuo.common.sgd.protos.TribuoSgd.getDescriptor(),
                org.tribuo.classification.protos.TribuoClassificationCore.getDescriptor(),
                org.tribuo.classification.sgd.protos.TribuoClassificationSgd.getDescriptor(),
                org.tribuo.regression.protos.TribuoRegressionCore.getDescriptor(),
                org.tribuo.regression.sgd.protos.TribuoRegressionSgd.getDescriptor(),
                org.tribuo.multilabel.protos.TribuoMultilabelCore.getDescriptor(),
                org.tribuo.multilabel.sgd.protos.TribuoMultilabelSgd.getDescriptor())) {
            addFile(file, types, files);
        }
        return Map.copyOf(types);
    }

    private static void addFile(FileDescriptor file, Map<String, Descriptor> types, Set<String> files) {
        if (!files.add(file.getName())) {
            return;
        }
        for (FileDescriptor dependency : file.getDependencies()) {
            addFile(dependency, types, files);
        }
        List<Descriptor> pending = new ArrayList<>(file.getMessageTypes());
        while (!pending.isEmpty()) {
            Descriptor type = pending.remove(pending.size() - 1);
            types.put(type.getFullName(), type);
            pending.addAll(type.getNestedTypes());
        }
    }

    // ---- the allow-list ----

    /**
     * Returns whether {@code className} is on the allow-list: the built-in entries and those of
     * the system property {@value #ALLOWED_CLASSES_PROPERTY}.
     *
     * @throws IllegalArgumentException if the system property holds an entry that is not a pattern
     */
    public static boolean permits(String className) {
        for (String pattern : BUILT_IN) {
            if (matches(pattern, className)) {
                return true;
            }
        }
        String extra = System.getProperty(ALLOWED_CLASSES_PROPERTY, "");
        for (String entry : extra.split(";")) {
            String pattern = entry.strip();
            if (pattern.isEmpty()) {
                continue;
            }
            if (pattern.startsWith("!") || pattern.contains("=") || pattern.contains("/")) {
                throw new IllegalArgumentException("system property " + ALLOWED_CLASSES_PROPERTY + ": entry '" + pattern
                        + "' is not an allowed class or package; expected a.b.C, a.b.*, a.b.** or prefix*");
            }
            if (matches(pattern, className)) {
                return true;
            }
        }
        return false;
    }

    private static boolean matches(String pattern, String className) {
        if (pattern.endsWith(".**")) {
            return className.startsWith(pattern.substring(0, pattern.length() - 2));
        }
        if (pattern.endsWith(".*")) {
            String pkg = pattern.substring(0, pattern.length() - 1);
            return className.startsWith(pkg) && className.indexOf('.', pkg.length()) < 0;
        }
        if (pattern.endsWith("*")) {
            return className.startsWith(pattern.substring(0, pattern.length() - 1));
        }
        return className.equals(pattern);
    }

    /**
     * Checks that {@code className} is on the allow-list before it is loaded.
     *
     * @param where where the name was found, for the message
     * @throws DisallowedClassException if it is not
     */
    public static void check(String className, String where) {
        if (!permits(className)) {
            throw DisallowedClassException.notAllowed(where, className, null);
        }
    }

    // ---- Java serialization ----

    /**
     * The allow-list as a Java deserialization filter: a class that is not on it (or, for arrays,
     * whose element class is not) is rejected before it is loaded. A JVM-wide filter
     * ({@code jdk.serialFilter}) still applies on top.
     */
    public static ObjectInputFilter javaFilter() {
        return withJvmFilter(allowListFilter(new AtomicReference<>()));
    }

    private static ObjectInputFilter allowListFilter(AtomicReference<String> rejected) {
        return info -> {
            Class<?> type = info.serialClass();
            if (type == null) {
                return ObjectInputFilter.Status.UNDECIDED;
            }
            while (type.isArray()) {
                type = type.getComponentType();
            }
            if (type.isPrimitive() || permits(type.getName())) {
                return ObjectInputFilter.Status.ALLOWED;
            }
            rejected.compareAndSet(null, type.getName());
            return ObjectInputFilter.Status.REJECTED;
        };
    }

    private static ObjectInputFilter withJvmFilter(ObjectInputFilter filter) {
        ObjectInputFilter jvm = ObjectInputFilter.Config.getSerialFilter();
        return jvm == null ? filter : ObjectInputFilter.merge(filter, jvm);
    }

    /**
     * Reads a Java-serialized model through {@link #javaFilter()}.
     *
     * @throws DisallowedClassException if the file names a class that is not allowed
     * @throws IOException if the file cannot be read or is not a serialized model
     */
    public static Model<?> readJava(Path file) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            return readJava(in, file.toString());
        }
    }

    /**
     * Reads a Java-serialized model from {@code in} through {@link #javaFilter()}.
     *
     * @param where what the stream is, for messages (a file name, a URL)
     * @throws DisallowedClassException if the stream names a class that is not allowed
     * @throws IOException if the stream cannot be read or does not hold a serialized model
     */
    public static Model<?> readJava(InputStream in, String where) throws IOException {
        AtomicReference<String> rejected = new AtomicReference<>();
        ObjectInputStream objects = new ObjectInputStream(in);
        objects.setObjectInputFilter(withJvmFilter(allowListFilter(rejected)));
        Object read;
        try {
            read = objects.readObject();
        } catch (InvalidClassException e) {
            if (rejected.get() != null) {
                throw DisallowedClassException.notAllowed(where, rejected.get(), e);
            }
            throw e;
        } catch (ClassNotFoundException e) {
            throw new IOException(where + ": a class it names is missing: " + e.getMessage(), e);
        }
        if (!(read instanceof Model)) {
            throw new IOException(where + ": holds a " + read.getClass().getName() + ", not a Tribuo Model");
        }
        return (Model<?>) read;
    }

    // ---- protobuf ----

    /**
     * Reads a model that Tribuo's {@code Model.serializeToFile} wrote, after checking every class
     * name in it.
     *
     * @throws DisallowedClassException if the file names a class that is not allowed
     * @throws IllegalArgumentException if it holds a message that cannot be checked
     * @throws IOException if the file cannot be read or is not a model
     */
    public static Model<?> readProto(Path file) throws IOException {
        ModelProto proto;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            proto = ModelProto.parseFrom(in);
        } catch (InvalidProtocolBufferException e) {
            throw new IOException(file + ": not a serialized Tribuo model: " + e.getMessage(), e);
        }
        return deserialize(proto, file.toString());
    }

    /**
     * Deserializes {@code proto} with Tribuo's {@code Model.deserialize}, after checking every
     * class name in it.
     *
     * @param where what the message is, for messages (a file name)
     * @throws DisallowedClassException if it names a class that is not allowed
     * @throws IllegalArgumentException if it holds a message that cannot be checked
     */
    public static Model<?> deserialize(ModelProto proto, String where) {
        checkClassNames(proto, where);
        return Model.deserialize(proto);
    }

    /**
     * Checks every class name in {@code message} (a Tribuo message, or an {@code Any} holding
     * one), nested messages included, without loading any of them.
     *
     * @param where what the message is, for messages
     * @throws DisallowedClassException if a class name is not allowed
     * @throws IllegalArgumentException if a nested message is of a type this check does not know,
     *     is malformed or is nested more than {@value #MAX_DEPTH} deep
     */
    public static void checkClassNames(Message message, String where) {
        if (message.getDescriptorForType().getFullName().equals(ANY)) {
            checkAny(message, null, where, 0);
        } else {
            walk(message, where + ": " + message.getDescriptorForType().getName(), 0);
        }
    }

    private static void walk(Message message, String path, int depth) {
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException(path + ": messages nested more than " + MAX_DEPTH + " deep");
        }
        Descriptor type = message.getDescriptorForType();
        String owner = null;
        for (FieldDescriptor field : type.getFields()) {
            if (field.getJavaType() == FieldDescriptor.JavaType.STRING && CLASS_NAME_FIELDS.contains(field.getName())) {
                for (Object value : values(message, field)) {
                    check((String) value, path + "." + field.getName());
                }
                if (field.getName().equals("class_name") && !field.isRepeated()) {
                    owner = (String) message.getField(field);
                }
            }
        }
        if (type.getFullName().equals(SimpleProvenanceProto.getDescriptor().getFullName())
                && EnumProvenance.class.getName().equals(message.getField(type.findFieldByName("provenance_class_name")))) {
            // an enum's class is loaded from the "additional" value
            check((String) message.getField(type.findFieldByName("additional")), path + ".additional");
        }
        for (FieldDescriptor field : type.getFields()) {
            if (field.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
                continue;
            }
            for (Object value : values(message, field)) {
                Message child = (Message) value;
                String childPath = path + "." + field.getName();
                if (field.getMessageType().getFullName().equals(ANY)) {
                    checkAny(child, owner, childPath, depth + 1);
                } else {
                    walk(child, childPath, depth + 1);
                }
            }
        }
    }

    private static List<?> values(Message message, FieldDescriptor field) {
        if (field.isRepeated()) {
            return (List<?>) message.getField(field);
        }
        return message.hasField(field) ? List.of(message.getField(field)) : List.of();
    }

    /** Checks the message inside an {@code Any}; {@code owner} is the already checked class that reads it. */
    private static void checkAny(Message any, String owner, String path, int depth) {
        Descriptor anyType = any.getDescriptorForType();
        String url = (String) any.getField(anyType.findFieldByName("type_url"));
        ByteString value = (ByteString) any.getField(anyType.findFieldByName("value"));
        if (url.isEmpty() && value.isEmpty()) {
            return;
        }
        String typeName = url.substring(url.lastIndexOf('/') + 1);
        Descriptor type = resolve(typeName, owner);
        if (type == null) {
            throw new IllegalArgumentException(path + ": cannot check a message of type " + typeName + " (read by "
                    + owner + "); the checked reader knows the messages of Tribuo's core, math, SGD, classification,"
                    + " regression and multi-label modules and of peft4j's models");
        }
        DynamicMessage message;
        try {
            message = DynamicMessage.parseFrom(type, value);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException(path + ": a malformed " + typeName + ": " + e.getMessage(), e);
        }
        walk(message, path + "<" + type.getName() + ">", depth + 1);
    }

    private static Descriptor resolve(String typeName, String owner) {
        Descriptor known = KNOWN_TYPES.get(typeName);
        if (known != null) {
            return known;
        }
        if (BytesMessage.typedView(typeName).isEmpty() && owner != null) {
            // peft4j's message types are made when their model class initializes; the owner is allowed
            try {
                Class.forName(owner, true, ModelReader.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError e) {
                return null;
            }
        }
        return BytesMessage.typedView(typeName).orElse(null);
    }
}
