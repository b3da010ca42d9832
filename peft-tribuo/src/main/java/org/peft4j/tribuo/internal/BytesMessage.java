package org.peft4j.tribuo.internal;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A protobuf message type of named {@code bytes} fields, built in code (no generated classes), for
 * the {@code serialized_data} of peft4j's Tribuo models: Tribuo's {@code ModelProto} carries it as
 * an {@code Any}, and each model keeps its parts (its metadata, a nested model, adapter files) as
 * bytes in it.
 *
 * <p>Fields that hold a serialized Tribuo message (a nested model, the model's metadata) are
 * declared with their type, so that {@link ModelReader} can read the message as a tree and check
 * every class name in it before anything is deserialized: bytes and an embedded message look the
 * same on the wire, so the typed view reads the very bytes {@link #pack} wrote.
 */
public final class BytesMessage {
    /** Typed views of the messages made so far, by full name. */
    private static final Map<String, Descriptor> TYPED_VIEWS = new ConcurrentHashMap<>();

    private final Descriptor descriptor;
    private final List<String> fields;

    /**
     * A message type {@code org.peft4j.tribuo.<name>} with the given fields, numbered from 1, none
     * of which holds a nested message.
     *
     * @throws IllegalArgumentException if the names are not valid protobuf names
     */
    public BytesMessage(String name, String... fields) {
        this(name, List.of(fields), Map.of());
    }

    /**
     * A message type {@code org.peft4j.tribuo.<name>} with the given fields, numbered from 1;
     * {@code nested} gives the message type held by some of them.
     *
     * @throws IllegalArgumentException if the names are not valid protobuf names, or a nested
     *     field is not one of {@code fields}
     */
    public BytesMessage(String name, List<String> fields, Map<String, Descriptor> nested) {
        if (!fields.containsAll(nested.keySet())) {
            throw new IllegalArgumentException("nested fields " + nested.keySet() + " of " + name + " are not all among "
                    + fields);
        }
        this.descriptor = build(name, fields, Map.of());
        this.fields = List.copyOf(fields);
        TYPED_VIEWS.put(descriptor.getFullName(), build(name, fields, nested));
    }

    private static Descriptor build(String name, List<String> fields, Map<String, Descriptor> nested) {
        DescriptorProto.Builder message = DescriptorProto.newBuilder().setName(name);
        Map<String, FileDescriptor> dependencies = new LinkedHashMap<>();
        for (int i = 0; i < fields.size(); i++) {
            FieldDescriptorProto.Builder field = FieldDescriptorProto.newBuilder().setName(fields.get(i)).setNumber(i + 1)
                    .setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL);
            Descriptor type = nested.get(fields.get(i));
            if (type == null) {
                field.setType(FieldDescriptorProto.Type.TYPE_BYTES);
            } else {
                field.setType(FieldDescriptorProto.Type.TYPE_MESSAGE).setTypeName("." + type.getFullName());
                dependencies.put(type.getFile().getName(), type.getFile());
            }
            message.addField(field);
        }
        String fileName = "org/peft4j/tribuo/" + name + (nested.isEmpty() ? "" : ".typed") + ".proto";
        FileDescriptorProto.Builder file = FileDescriptorProto.newBuilder().setName(fileName)
                .setPackage("org.peft4j.tribuo").setSyntax("proto3").addMessageType(message);
        dependencies.keySet().forEach(file::addDependency);
        try {
            return FileDescriptor.buildFrom(file.build(), dependencies.values().toArray(new FileDescriptor[0]))
                    .findMessageTypeByName(name);
        } catch (DescriptorValidationException e) {
            throw new IllegalArgumentException("invalid message " + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * The typed view of a message made by this class: its nested fields as messages, the others
     * as bytes; empty if no such message has been made in this JVM.
     */
    public static Optional<Descriptor> typedView(String fullName) {
        return Optional.ofNullable(TYPED_VIEWS.get(fullName));
    }

    /**
     * Checks the version of a {@code ModelProto} before its data is read.
     *
     * @throws IllegalArgumentException if {@code version} is negative or newer than {@code newest}
     */
    public static void checkVersion(int version, int newest, String className) {
        if (version < 0 || version > newest) {
            throw new IllegalArgumentException("unknown version " + version + " of " + className + "; this peft4j reads"
                    + " versions up to " + newest);
        }
    }

    /** Packs the values (every field must be given) into an {@code Any}. */
    public Any pack(Map<String, ByteString> values) {
        DynamicMessage.Builder builder = DynamicMessage.newBuilder(descriptor);
        for (String field : fields) {
            ByteString value = values.get(field);
            if (value == null) {
                throw new IllegalArgumentException("no value for field " + field + " of " + descriptor.getFullName());
            }
            builder.setField(descriptor.findFieldByName(field), value);
        }
        return Any.pack(builder.build());
    }

    /**
     * Reads the fields of a packed message, by name.
     *
     * @throws InvalidProtocolBufferException if the bytes are not such a message
     */
    public Map<String, ByteString> unpack(Any any) throws InvalidProtocolBufferException {
        if (!any.getTypeUrl().endsWith("/" + descriptor.getFullName())) {
            throw new InvalidProtocolBufferException("expected a " + descriptor.getFullName() + ", got " + any.getTypeUrl());
        }
        DynamicMessage message = DynamicMessage.parseFrom(descriptor, any.getValue());
        Map<String, ByteString> out = new LinkedHashMap<>();
        for (String field : fields) {
            FieldDescriptor descriptorField = descriptor.findFieldByName(field);
            out.put(field, (ByteString) message.getField(descriptorField));
        }
        return out;
    }
}
