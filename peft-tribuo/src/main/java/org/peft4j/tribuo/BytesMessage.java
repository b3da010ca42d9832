package org.peft4j.tribuo;

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

/**
 * A protobuf message type of named {@code bytes} fields, built in code (no generated classes), for
 * the {@code serialized_data} of peft4j's Tribuo models: Tribuo's {@code ModelProto} carries it as
 * an {@code Any}, and each model keeps its parts (its metadata, a nested model, adapter files) as
 * bytes in it.
 */
public final class BytesMessage {
    private final Descriptor descriptor;
    private final List<String> fields;

    /**
     * A message type {@code org.peft4j.tribuo.<name>} with the given fields, numbered from 1.
     *
     * @throws IllegalArgumentException if the names are not valid protobuf names
     */
    public BytesMessage(String name, String... fields) {
        DescriptorProto.Builder message = DescriptorProto.newBuilder().setName(name);
        for (int i = 0; i < fields.length; i++) {
            message.addField(FieldDescriptorProto.newBuilder().setName(fields[i]).setNumber(i + 1)
                    .setType(FieldDescriptorProto.Type.TYPE_BYTES).setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL));
        }
        FileDescriptorProto file = FileDescriptorProto.newBuilder().setName("org/peft4j/tribuo/" + name + ".proto")
                .setPackage("org.peft4j.tribuo").setSyntax("proto3").addMessageType(message).build();
        try {
            this.descriptor = FileDescriptor.buildFrom(file, new FileDescriptor[0]).findMessageTypeByName(name);
        } catch (DescriptorValidationException e) {
            throw new IllegalArgumentException("invalid message " + name + ": " + e.getMessage(), e);
        }
        this.fields = List.of(fields);
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
