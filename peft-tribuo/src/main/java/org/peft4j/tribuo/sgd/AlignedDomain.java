package org.peft4j.tribuo.sgd;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tribuo.ImmutableFeatureMap;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Model;
import org.tribuo.MutableOutputInfo;
import org.tribuo.Output;
import org.tribuo.VariableInfo;
import org.tribuo.math.la.DenseMatrix;

/**
 * A base linear model's weights laid out over a new domain, by name. Tribuo numbers features in
 * name order and labels in no fixed order, so the same feature or label can have another id in new
 * data; the alignment matches them by name, never by id.
 *
 * <p>The policy for data from a shifted domain:
 * <ul>
 *   <li>a feature the base never saw joins the feature map with a base weight of 0 (frozen), so
 *       the adapter alone learns its weight; with {@link NewFeatures#IGNORE} such features are
 *       dropped instead, as Tribuo drops unknown features at prediction time;</li>
 *   <li>an output (label or regression dimension) the base never saw gets a new row of weights,
 *       0 in the base, learned by the adapter;</li>
 *   <li>everything the base knew keeps its weight, under whatever id it now has.</li>
 * </ul>
 *
 * @param <T> the output type
 * @param features the feature map of the adapted model
 * @param outputs the output domain of the adapted model
 * @param baseWeights the base weights over that domain, [outputs, features + 1] with the bias last
 * @param newFeatureNames features the base did not know, in id order
 * @param newOutputNames outputs the base did not know, in id order
 */
public record AlignedDomain<T extends Output<T>>(ImmutableFeatureMap features, ImmutableOutputInfo<T> outputs,
        DenseMatrix baseWeights, List<String> newFeatureNames, List<String> newOutputNames) implements Serializable {

    /** What to do with features the base model never saw. */
    public enum NewFeatures {
        /** Add them to the feature map; their weights start at 0 and are learned by the adapter. */
        LEARN,
        /** Drop them, keeping the base model's feature map. */
        IGNORE
    }

    /**
     * Lays {@code base}'s weights out over its own domain widened by {@code extraFeatures} (unless
     * ignored) and {@code extraOutputs}.
     */
    public static <T extends Output<T>> AlignedDomain<T> align(Model<T> base, LinearModelFamily<T> family,
            Collection<? extends VariableInfo> extraFeatures, Collection<T> extraOutputs, NewFeatures policy) {
        ImmutableFeatureMap baseFeatures = base.getFeatureIDMap();
        List<VariableInfo> infos = new ArrayList<>();
        baseFeatures.forEach(infos::add);
        if (policy == NewFeatures.LEARN) {
            for (VariableInfo info : extraFeatures) {
                if (baseFeatures.get(info.getName()) == null) {
                    infos.add(info);
                }
            }
        }
        ImmutableFeatureMap features = new ImmutableFeatureMap(infos);

        ImmutableOutputInfo<T> baseOutputs = base.getOutputIDInfo();
        Map<String, Integer> baseRows = new HashMap<>();
        for (int id = 0; id < baseOutputs.size(); id++) {
            baseRows.put(family.dimensionName(baseOutputs, id), id);
        }
        MutableOutputInfo<T> widened = baseOutputs.generateMutableOutputInfo();
        for (T output : extraOutputs) {
            widened.observe(output);
        }
        ImmutableOutputInfo<T> outputs = widened.generateImmutableOutputInfo();

        DenseMatrix old = family.weights(base);
        int oldBias = baseFeatures.size();
        int bias = features.size();
        DenseMatrix weights = new DenseMatrix(outputs.size(), bias + 1);
        List<String> newOutputs = new ArrayList<>();
        List<String> newFeatures = new ArrayList<>();
        int[] oldColumn = new int[bias];
        for (int j = 0; j < bias; j++) {
            String name = features.get(j).getName();
            oldColumn[j] = baseFeatures.getID(name);
            if (oldColumn[j] < 0) {
                newFeatures.add(name);
            }
        }
        for (int o = 0; o < outputs.size(); o++) {
            Integer row = baseRows.get(family.dimensionName(outputs, o));
            if (row == null) {
                newOutputs.add(family.dimensionName(outputs, o));
                continue;
            }
            for (int j = 0; j < bias; j++) {
                if (oldColumn[j] >= 0) {
                    weights.set(o, j, old.get(row, oldColumn[j]));
                }
            }
            weights.set(o, bias, old.get(row, oldBias));
        }
        return new AlignedDomain<>(features, outputs, weights, List.copyOf(newFeatures), List.copyOf(newOutputs));
    }
}
