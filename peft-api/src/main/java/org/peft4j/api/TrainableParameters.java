package org.peft4j.api;

import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.Locale;

/**
 * How many of a model's parameters train, reported in the words Hugging Face PEFT's
 * {@code print_trainable_parameters} uses:
 * {@code trainable params: 74,498 || all params: 22,640,642 || trainable%: 0.3291}.
 *
 * @param trainable the number of scalars that receive gradients
 * @param all the number of scalars in the whole model, adapters included
 */
public record TrainableParameters(long trainable, long all) {
    /** Validates the counts. */
    public TrainableParameters {
        if (trainable < 0 || all < 0 || trainable > all) {
            throw new IllegalArgumentException(
                    "need 0 <= trainable <= all, got trainable=" + trainable + ", all=" + all);
        }
    }

    /** Returns the trainable share in percent (0 for an empty model). */
    public double trainablePercent() {
        return all == 0 ? 0 : 100.0 * trainable / all;
    }

    @Override
    public String toString() {
        DecimalFormatSymbols symbols = DecimalFormatSymbols.getInstance(Locale.ROOT);
        DecimalFormat grouped = new DecimalFormat("#,##0", symbols);
        DecimalFormat percent = new DecimalFormat("0.0000", symbols);
        return "trainable params: " + grouped.format(trainable) + " || all params: " + grouped.format(all)
                + " || trainable%: " + percent.format(trainablePercent());
    }
}
