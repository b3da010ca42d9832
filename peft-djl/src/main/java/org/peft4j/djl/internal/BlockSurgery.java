package org.peft4j.djl.internal;

import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;

/**
 * Replaces one child block of a DJL block by another, everywhere the parent refers to it: in its
 * registered children (what {@code getChildren()}, parameter listing and saving see) and in its
 * own fields, including private and final fields and the elements of lists and arrays it holds
 * (what its {@code forward} calls). The replacement must be assignable to each field's type, which
 * is why LoRA layers extend DJL's {@code Linear}.
 *
 * <p>This is a building block for the method packages; applications use {@link Peft} instead.
 */
public final class BlockSurgery {
    private static final Field CHILDREN = childrenField();

    private BlockSurgery() {}

    /** A completed replacement that can be reverted. */
    public interface Undo {
        /** Puts the old child back everywhere it was replaced. */
        void revert();
    }

    /**
     * Replaces {@code oldChild} with {@code newChild} inside {@code parent}.
     *
     * @return how to revert the replacement
     * @throws IllegalStateException if the parent is not an {@link AbstractBlock}, does not hold
     *     the child, or holds it in a field that cannot take the replacement
     */
    public static Undo replace(Block parent, Block oldChild, Block newChild) {
        if (!(parent instanceof AbstractBlock)) {
            throw new IllegalStateException(
                    "cannot replace a child of " + parent.getClass().getName() + ": only AbstractBlock subclasses are supported");
        }
        List<Runnable> reverts = new ArrayList<>();
        try {
            BlockList children = (BlockList) CHILDREN.get(parent);
            List<Block> values = children.values();
            boolean found = false;
            for (int i = 0; i < values.size(); i++) {
                if (values.get(i) == oldChild) {
                    int index = i;
                    values.set(index, newChild);
                    reverts.add(() -> values.set(index, oldChild));
                    found = true;
                }
            }
            if (!found) {
                throw new IllegalStateException("block " + parent.getClass().getName() + " does not hold the child to replace");
            }
            for (Class<?> c = parent.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
                for (Field field : c.getDeclaredFields()) {
                    if (!Modifier.isStatic(field.getModifiers()) && !field.getType().isPrimitive()) {
                        replaceInField(parent, field, oldChild, newChild, reverts);
                    }
                }
            }
        } catch (IllegalAccessException | RuntimeException e) {
            revertAll(reverts);
            if (e instanceof RuntimeException) {
                throw (RuntimeException) e;
            }
            throw new IllegalStateException("cannot replace a child of " + parent.getClass().getName(), e);
        }
        return () -> revertAll(reverts);
    }

    private static void replaceInField(Object owner, Field field, Block oldChild, Block newChild, List<Runnable> reverts)
            throws IllegalAccessException {
        if (field.getDeclaringClass() == AbstractBlock.class) {
            return; // the children list itself, handled above
        }
        field.setAccessible(true);
        Object value = field.get(owner);
        if (value == oldChild) {
            if (!field.getType().isInstance(newChild)) {
                throw new IllegalStateException("field " + field + " cannot hold a " + newChild.getClass().getName());
            }
            field.set(owner, newChild);
            reverts.add(() -> setQuietly(field, owner, oldChild));
        } else if (value instanceof List) {
            @SuppressWarnings("unchecked")
            List<Object> list = (List<Object>) value;
            for (int i = 0; i < list.size(); i++) {
                if (list.get(i) == oldChild) {
                    int index = i;
                    list.set(index, newChild);
                    reverts.add(() -> list.set(index, oldChild));
                }
            }
        } else if (value instanceof Object[]) {
            Object[] array = (Object[]) value;
            for (int i = 0; i < array.length; i++) {
                if (array[i] == oldChild) {
                    int index = i;
                    array[index] = newChild;
                    reverts.add(() -> array[index] = oldChild);
                }
            }
        }
    }

    private static void setQuietly(Field field, Object owner, Object value) {
        try {
            field.set(owner, value);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot restore field " + field, e);
        }
    }

    private static void revertAll(List<Runnable> reverts) {
        for (int i = reverts.size() - 1; i >= 0; i--) {
            reverts.get(i).run();
        }
    }

    private static Field childrenField() {
        try {
            Field f = AbstractBlock.class.getDeclaredField("children");
            f.setAccessible(true);
            return f;
        } catch (NoSuchFieldException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
