package org.peft4j.api;

/**
 * The config of a method that puts its weights on chosen layers of the model (LoRA, IA3): the
 * modules it targets ({@code target_modules}) and those it never does ({@code exclude_modules}).
 */
public interface TargetingConfig extends PeftConfig {
    /** Returns the modules that get the adapter's weights. */
    TargetModules targetModules();

    /** Returns the modules never targeted, even when {@link #targetModules()} selects them, or null for none. */
    TargetModules excludeModules();

    /**
     * Returns whether the module at {@code path} is targeted: selected by {@code target_modules},
     * not by {@code exclude_modules}, and neither one of nor inside one of {@code modules_to_save}.
     */
    default boolean isTargeted(String path) {
        if (excludeModules() != null && excludeModules().matches(path)) {
            return false;
        }
        return targetModules().matches(path) && !isSavedWhole(path);
    }
}
